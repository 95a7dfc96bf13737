//! Spreadsheets shaped to hurt: a workbook that declares the whole grid, one that
//! spreads rows across the sheet, and one far too wide. Each is refused or read by its
//! real cells, the node keeps answering, and nothing is written.

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{id_number, Cluster};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const TEMPLATE: [&str; 6] = ["姓名", "手机号", "身份证号", "工作单位", "职务", "入会日期"];

fn book(write: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in TEMPLATE.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    write(sheet);
    book.save_to_buffer().unwrap()
}

/// Uploads `file` to each of the root union's `readers` and checks each answers 422 with
/// a reason on the file that contains `why`.
async fn refused_by_each(cluster: &Cluster, token: &str, readers: &[&str], file: &[u8], why: &str) {
    let union = cluster.root_union;
    for path in readers {
        let r = cluster
            .upload(
                token,
                &format!("/unions/{union}/{path}"),
                XLSX,
                file.to_vec(),
            )
            .await;
        assert_eq!(r.status(), 422, "{path}");
        let body: Value = r.json().await.unwrap();
        let reason = body["error"]["fields"]["file"].as_str().unwrap();
        assert!(reason.contains(why), "{path}: {body}");
    }
}

#[actix_rt::test]
async fn a_workbook_declaring_the_whole_grid_is_read_by_its_real_cells() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let union = cluster.root_union;
    // One member in row 2 and one stray value in the sheet's very last cell (XFD1048576):
    // the sheet declares 17 billion cells and holds eight.
    let corner = book(|sheet| {
        let row = ["张三".to_owned(), "13700000001".into(), id_number(1)];
        for (c, cell) in row.iter().enumerate() {
            sheet.write_string(1, c as u16, cell).unwrap();
        }
        sheet.write_string(1_048_575, 16_383, "x").unwrap();
    });
    assert!(corner.len() < 16 * 1024, "a small file: {}", corner.len());
    let readers = ["members/import", "members/remove-file?reason=x"];
    refused_by_each(&cluster, &root, &readers, &corner, "beyond column 64").await;
    // Rows spread from the top to the bottom of the sheet are counted as rows, before
    // anything grows with the distance between them.
    let spread = book(|sheet| {
        for n in 0..5u32 {
            sheet.write_string(1 + n * 200_000, 0, "李四").unwrap();
        }
    });
    let r = cluster
        .upload(
            &root,
            &format!("/unions/{union}/members/import"),
            XLSX,
            spread,
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let health = cluster
        .http
        .get(format!("{}/healthz", cluster.nodes[0].http));
    assert_eq!(health.send().await.unwrap().status(), 200);
    let memberships = cluster.count("SELECT count(*) FROM memberships", &[]).await;
    assert_eq!(memberships, 0);
}

#[actix_rt::test]
async fn a_shared_string_bomb_is_refused_by_every_reader_before_it_is_copied() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    // One long string shared by 400 cells: 90 KiB of XML that would become 36 MiB.
    let long = "工".repeat(30_000);
    let bomb = book(|sheet| {
        for row in 1..=400 {
            sheet.write_string(row, 0, &long).unwrap();
        }
    });
    assert!(bomb.len() < 8 * 1024, "a small file: {}", bomb.len());
    let readers = [
        "members/import",
        "members/remove-file?reason=x",
        "tree/import",
    ];
    refused_by_each(&cluster, &root, &readers, &bomb, "longer than 64 KiB").await;
    assert_eq!(
        cluster.count("SELECT count(*) FROM memberships", &[]).await,
        0
    );
}

#[actix_rt::test]
async fn a_node_reads_only_so_many_files_at_once_and_answers_the_rest_503() {
    let cluster = Cluster::start_with(1, &crate::helpers::pg_base(), |s| {
        s.sheets_at_once = Some(1)
    })
    .await;
    let root = cluster.root_admin_token().await;
    let union = cluster.root_union;
    let path = format!("/api/v1/unions/{union}/members/import");
    // A file whose body arrives slowly holds the node's one place.
    let file = "姓名,手机号,身份证号\n".as_bytes();
    let address = cluster.nodes[0]
        .http
        .trim_start_matches("http://")
        .to_owned();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {root}\r\n\
         Content-Type: text/csv\r\nContent-Length: {}\r\n\r\n",
        file.len()
    );
    let begin_slowly = || async {
        let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
        slow.write_all(head.as_bytes()).await.unwrap();
        slow.write_all(&file[..4]).await.unwrap();
        slow
    };
    let mut slow = begin_slowly().await;
    let busy = async {
        loop {
            let r = cluster
                .upload(
                    &root,
                    &format!("/unions/{union}/members/import"),
                    "text/csv",
                    file.to_vec(),
                )
                .await;
            if r.status() == 503 {
                return r;
            }
            // This one got the place first, and the slow one may have been the one
            // refused: once it is answered it holds nothing, so begin another.
            let mut peek = [0u8; 1];
            let wait = std::time::Duration::from_millis(50);
            if tokio::time::timeout(wait, slow.peek(&mut peek))
                .await
                .is_ok()
            {
                slow = begin_slowly().await;
            }
        }
    };
    let r = tokio::time::timeout(std::time::Duration::from_secs(5), busy)
        .await
        .expect("a second file is refused while the first is read");
    assert_eq!(r.headers()["retry-after"], "1");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    // Once the first has arrived and been read, the place is free again.
    slow.write_all(&file[4..]).await.unwrap();
    let mut answer = [0u8; 12];
    slow.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    let r = cluster
        .upload(
            &root,
            &format!("/unions/{union}/members/import"),
            "text/csv",
            file.to_vec(),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}
