use std::time::Duration;

use url::Url;

use super::WeChatSettings;
use crate::domain::Invalid;
use crate::{Error, Result};

/// How many redirects a fetch follows, each to an allowed host.
const MAX_REDIRECTS: usize = 3;

/// Whether `url` is HTTPS on an allowed host (an entry with a port names that port;
/// one without, the default port).
pub fn allowed(url: &Url, hosts: &[String]) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && hosts.iter().any(|entry| match entry.split_once(':') {
            Some((h, port)) => {
                h == host
                    && url
                        .port_or_known_default()
                        .map(|p| p.to_string())
                        .as_deref()
                        == Some(port)
            }
            None => entry == host && url.port().is_none(),
        })
}

/// Checks a link before anything is fetched.
pub fn check(raw: &str, hosts: &[String]) -> std::result::Result<Url, Invalid> {
    let url = Url::parse(raw.trim()).map_err(|_| Invalid::new("url", "is not a URL"))?;
    if url.scheme() != "https" {
        return Err(Invalid::new("url", "must be an https:// link"));
    }
    if !allowed(&url, hosts) {
        return Err(Invalid::new(
            "url",
            format!("only links to {} are imported", hosts.join(", ")),
        ));
    }
    Ok(url)
}

/// The client every WeChat call goes through: the configured timeout, redirects only
/// to allowed hosts, and any extra trusted root certificate.
pub fn client(settings: &WeChatSettings) -> anyhow::Result<reqwest::Client> {
    let hosts = settings.allowed_hosts.clone();
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if allowed(attempt.url(), &hosts) {
            attempt.follow()
        } else {
            attempt.error("a redirect to a host that is not allowed")
        }
    });
    let mut builder = reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
        .redirect(policy)
        .user_agent("gonghui");
    if let Some(pem) = &settings.extra_root_pem {
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(pem)?);
    }
    Ok(builder.build()?)
}

/// Fetches a page of at most `settings.max_page` bytes within `settings.timeout`.
///
/// # Errors
/// `Invalid` on `url` for a refused redirect or a page too large; `Unavailable` when the
/// host does not answer in time or answers with an error.
pub async fn page(client: &reqwest::Client, settings: &WeChatSettings, url: Url) -> Result<String> {
    let failed = |e: reqwest::Error| -> Error {
        if e.is_redirect() {
            Invalid::new("url", "it redirects to a host that is not allowed").into()
        } else if e.is_timeout() {
            Error::Unavailable(format!(
                "the page did not answer within {} s",
                settings.timeout.as_secs_f64()
            ))
        } else {
            Error::Unavailable("the page could not be fetched".into())
        }
    };
    let response = client.get(url).send().await.map_err(failed)?;
    let status = response.status();
    // A missing page is the link's fault, not a passing failure: a 503 would tell the
    // client to retry a link that will never work.
    if status.is_client_error() {
        return Err(Invalid::new(
            "url",
            format!("no article at this link (the page answered {status})"),
        )
        .into());
    }
    if !status.is_success() {
        return Err(Error::Unavailable(format!("the page answered {status}")));
    }
    let too_large = || {
        Invalid::new(
            "url",
            format!("the page is larger than {} KiB", settings.max_page / 1024),
        )
    };
    if response
        .content_length()
        .is_some_and(|n| n as usize > settings.max_page)
    {
        return Err(too_large().into());
    }
    let mut body = Vec::new();
    let mut response = response;
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > settings.max_page {
            return Err(too_large().into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_links_to_allowed_hosts_pass() {
        let hosts = vec!["mp.weixin.qq.com".to_owned(), "127.0.0.1:8443".to_owned()];
        assert!(check("https://mp.weixin.qq.com/s/abc", &hosts).is_ok());
        assert!(check("https://127.0.0.1:8443/s/abc", &hosts).is_ok());
        for bad in [
            "http://mp.weixin.qq.com/s/abc",
            "https://mp.weixin.qq.com.evil.com/s",
            "https://evil.com/?u=mp.weixin.qq.com",
            "https://mp.weixin.qq.com:444/s",
            "https://127.0.0.1:9999/s",
            "https://user@mp.weixin.qq.com/s",
            "ftp://mp.weixin.qq.com/s",
            "not a url",
        ] {
            assert!(check(bad, &hosts).is_err(), "{bad}");
        }
    }
}
