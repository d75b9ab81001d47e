//! The file manager's downloads and names through the real proxy in local mode:
//! single-range requests (`206`, `416`, `If-Range`), an interrupted download
//! resumed from where it broke, conditional requests, and files whose names are not
//! UTF-8 reached by the links their listing gives.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use dcs_e2e::{client, Fixture};
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_RANGE, ETAG, IF_RANGE, LAST_MODIFIED, RANGE};
use reqwest::{Response, StatusCode, Url};

/// A file larger than the launcher reads in one piece (64 KiB), so it is streamed.
const SIZE: usize = 3_000_000;

fn data() -> Vec<u8> {
    (0..SIZE).map(|i| (i % 251) as u8).collect()
}

/// A started workspace with `big.bin` ([`data`]) in its checkout.
async fn scene() -> anyhow::Result<(Fixture, Vec<u8>)> {
    let fx = Fixture::new(|b| b)?;
    fx.readme_is_served().await?;
    let data = data();
    std::fs::write(fx.checkout().join("big.bin"), &data)?;
    Ok((fx, data))
}

fn header(headers: &HeaderMap, name: impl reqwest::header::AsHeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The status, headers and whole body of `resp`.
async fn whole(resp: Response) -> anyhow::Result<(StatusCode, HeaderMap, Vec<u8>)> {
    let (status, headers) = (resp.status(), resp.headers().clone());
    Ok((status, headers, resp.bytes().await?.to_vec()))
}

#[tokio::test]
async fn a_range_gets_206_with_exactly_those_bytes() -> anyhow::Result<()> {
    let (fx, data) = scene().await?;
    let url = fx.proxy.url("/github/acme/hello/_dcs/files/big.bin");
    let ask = |range: &'static str| client().get(&url).header(RANGE, range).send();

    let (status, headers, body) = whole(ask("bytes=1000-1999").await?).await?;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{}", fx.proxy.log());
    assert_eq!(header(&headers, CONTENT_RANGE), "bytes 1000-1999/3000000");
    assert_eq!(header(&headers, "content-length"), "1000");
    assert!(body == data[1000..2000], "{} other bytes", body.len());
    assert_eq!(header(&headers, "accept-ranges"), "bytes");
    assert!(header(&headers, ETAG).starts_with('"'), "{headers:?}");
    assert!(
        header(&headers, LAST_MODIFIED).ends_with(" GMT"),
        "{headers:?}"
    );
    // The untrusted-content headers stay on partial answers.
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert_eq!(header(&headers, "content-security-policy"), "sandbox");

    let (status, headers, body) = whole(ask("bytes=-10").await?).await?;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header(&headers, CONTENT_RANGE),
        "bytes 2999990-2999999/3000000"
    );
    assert!(body == data[SIZE - 10..]);

    // A small file (read whole by the launcher) is cut the same way.
    let readme = fx
        .proxy
        .url("/github/acme/hello/_dcs/files/README.md?download");
    let resp = client()
        .get(readme)
        .header(RANGE, "bytes=2-6")
        .send()
        .await?;
    let (status, headers, body) = whole(resp).await?;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, b"hello");
    assert!(header(&headers, "content-disposition").starts_with("attachment"));

    // Several ranges: the whole file (RFC 9110 allows it).
    let (status, _, body) = whole(ask("bytes=0-1,5-6").await?).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.len(), SIZE);
    Ok(())
}

#[tokio::test]
async fn a_range_past_the_end_is_416_with_the_length() -> anyhow::Result<()> {
    let (fx, _) = scene().await?;
    let url = fx.proxy.url("/github/acme/hello/_dcs/files/big.bin");
    let resp = client()
        .get(url)
        .header(RANGE, "bytes=3000000-")
        .header(ACCEPT, "application/json")
        .send()
        .await?;
    let (status, headers, body) = whole(resp).await?;
    assert_eq!(
        status,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "{}",
        fx.proxy.log()
    );
    assert_eq!(header(&headers, CONTENT_RANGE), "bytes */3000000");
    let json: serde_json::Value = serde_json::from_slice(&body)?;
    assert!(json["error"]
        .as_str()
        .is_some_and(|m| m.contains("3000000 bytes")));
    Ok(())
}

#[tokio::test]
async fn an_interrupted_download_resumes_from_its_offset() -> anyhow::Result<()> {
    let (fx, data) = scene().await?;
    let url = fx
        .proxy
        .url("/github/acme/hello/_dcs/files/big.bin?download");

    // The first attempt breaks off after some of the file.
    let mut first = client().get(&url).send().await?;
    assert_eq!(first.status(), StatusCode::OK, "{}", fx.proxy.log());
    let etag = header(first.headers(), ETAG).to_owned();
    let date = header(first.headers(), LAST_MODIFIED).to_owned();
    let mut got = Vec::new();
    while got.len() < 100_000 {
        let Some(piece) = first.chunk().await? else {
            break;
        };
        got.extend_from_slice(&piece);
    }
    drop(first);
    assert!(got.len() < SIZE, "the whole file came at once");

    // Resumed where it broke, on condition that the file is the same.
    let rest = client()
        .get(&url)
        .header(RANGE, format!("bytes={}-", got.len()))
        .header(IF_RANGE, &etag)
        .send()
        .await?;
    let (status, headers, body) = whole(rest).await?;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{}", fx.proxy.log());
    let expected = format!("bytes {}-{}/{SIZE}", got.len(), SIZE - 1);
    assert_eq!(header(&headers, CONTENT_RANGE), expected);
    got.extend_from_slice(&body);
    assert!(got == data, "the pieces do not make the file");

    // By date, as clients without an ETag resume.
    let by_date = client()
        .get(&url)
        .header(RANGE, "bytes=10-")
        .header(IF_RANGE, &date)
        .send()
        .await?;
    assert_eq!(by_date.status(), StatusCode::PARTIAL_CONTENT);

    // Once the file changed, the condition fails: the whole new file.
    // (Same size; a modification time of its own, should the clock not have moved.)
    let changed: Vec<u8> = data.iter().map(|b| b.wrapping_add(1)).collect();
    std::fs::write(fx.checkout().join("big.bin"), &changed)?;
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(fx.checkout().join("big.bin"))?
        .set_modified(at)?;
    let stale = client()
        .get(&url)
        .header(RANGE, "bytes=10-")
        .header(IF_RANGE, &etag)
        .send()
        .await?;
    let (status, headers, body) = whole(stale).await?;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(header(&headers, ETAG), etag);
    assert!(body == changed, "not the new file");
    Ok(())
}

#[tokio::test]
async fn head_answers_as_get_and_an_unchanged_file_is_304() -> anyhow::Result<()> {
    let (fx, _) = scene().await?;
    let url = fx.proxy.url("/github/acme/hello/_dcs/files/big.bin");
    let head = client()
        .head(&url)
        .header(RANGE, "bytes=5-9")
        .send()
        .await?;
    assert_eq!(head.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(head.headers(), CONTENT_RANGE), "bytes 5-9/3000000");
    assert_eq!(header(head.headers(), "content-length"), "5");
    let etag = header(head.headers(), ETAG).to_owned();

    let again = client()
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await?;
    let (status, headers, body) = whole(again).await?;
    assert_eq!(status, StatusCode::NOT_MODIFIED, "{}", fx.proxy.log());
    assert_eq!(header(&headers, ETAG), etag);
    assert!(body.is_empty());
    Ok(())
}

/// `caf\xE9.txt`: Latin-1 `café.txt`, not UTF-8.
const LATIN1: &[u8] = b"caf\xe9.txt";

#[tokio::test]
async fn a_name_that_is_not_utf8_opens_from_its_listing() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    fx.readme_is_served().await?;
    let name = OsStr::from_bytes(LATIN1);
    std::fs::write(fx.checkout().join(name), b"latin-1 name\n")?;
    let base = Url::parse(&fx.proxy.url("/github/acme/hello/_dcs/files/"))?;

    // The HTML listing's link, followed as a browser would.
    let page = client().get(base.clone()).send().await?.text().await?;
    let href = page
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|href| href.contains("caf") && !href.contains('?'))
        .ok_or_else(|| anyhow::anyhow!("no link to the file in {page}"))?
        .to_owned();
    let resp = client().get(base.join(&href)?).send().await?;
    let (status, _, body) = whole(resp).await?;
    assert_eq!(
        status,
        StatusCode::OK,
        "{href}: {}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(body, b"latin-1 name\n");
    assert_eq!(href, "./caf%E9.txt");

    // The JSON listing: a lossy name for people, the link for programs.
    let listed = client()
        .get(base.clone())
        .header(ACCEPT, "application/json")
        .send()
        .await?;
    let json: serde_json::Value = serde_json::from_slice(&listed.bytes().await?)?;
    let entry = json["entries"]
        .as_array()
        .and_then(|all| all.iter().find(|e| e["href"] == "caf%E9.txt"))
        .ok_or_else(|| anyhow::anyhow!("no href for the file in {json}"))?;
    assert_eq!(entry["name"], "caf\u{fffd}.txt");
    assert_eq!(json["entries"][0]["href"], ".git/");

    // An upload under such a name creates that very name.
    let put = client()
        .put(base.join("new%FF.bin")?)
        .header(ACCEPT, "application/json")
        .body("up")
        .send()
        .await?;
    assert_eq!(put.status(), StatusCode::CREATED, "{}", put.text().await?);
    let stored = fx.checkout().join(OsStr::from_bytes(b"new\xff.bin"));
    assert_eq!(std::fs::read(stored)?, b"up");
    Ok(())
}
