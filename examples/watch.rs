//! Prints a topic's frames as JSON: `cargo run --example watch -- WS_URL TOKEN TOPIC [SINCE]`.
//! A small client for trying the protocol by hand.

use futures_util::{SinkExt, StreamExt};
use gonghui_protocol::{ClientKind, ClientMsg, RequestId};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, token, topic, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: watch WS_URL TOKEN TOPIC [SINCE]");
    };
    let since = rest.first().map(|s| s.parse()).transpose()?;
    let mut request = url.as_str().into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "gonghui.v1.json".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    for msg in [
        ClientMsg::Hello {
            id: RequestId::Int(1),
            token: token.clone(),
            client: ClientKind::Console,
        },
        ClientMsg::Subscribe {
            id: RequestId::Int(2),
            topic: topic.clone(),
            since,
        },
    ] {
        socket
            .send(Message::Text(serde_json::to_string(&msg)?))
            .await?;
    }
    while let Some(frame) = socket.next().await {
        match frame? {
            Message::Text(text) => println!("{text}"),
            Message::Close(close) => {
                println!("closed: {close:?}");
                break;
            }
            _ => {}
        }
    }
    Ok(())
}
