//! `dcs open`: an instance's link with its stored access token, handed to the
//! browser through a private page so the token never shows in a process list.

use std::path::Path;
use std::process::{Command as Process, Stdio};

use crate::client::open_url;
use crate::commands::Ctx;
use crate::exit::{CliError, Exit};
use crate::output::print;
use crate::tokens::write_private;

pub fn open(ctx: &Ctx, id: &str, print_only: bool) -> Result<(), CliError> {
    let store = ctx.tokens()?;
    let stored = store.get(&ctx.server_key, id)?.ok_or_else(|| {
        CliError::new(
            Exit::NotFound,
            format!(
                "no stored access token for {id} on {}: tokens are saved by `dcs create` \
                 on this machine (in {})",
                ctx.server_key,
                store.path().display()
            ),
        )
    })?;
    let url = open_url(ctx.client.server(), &stored.url, &stored.access_token)?;
    if print_only {
        print(&format!("{url}\n"));
        return Ok(());
    }
    // The token must not appear in a process list: the browser gets a private file
    // (next to the token store, same protection) that redirects to the URL.
    let page = store
        .path()
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("open.html");
    let launched = write_private(&page, redirect_page(url.as_str()).as_bytes())
        .ok()
        .and_then(|()| {
            Process::new("xdg-open")
                .arg(&page)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .ok()
        })
        .is_some_and(|s| s.success());
    if launched {
        eprintln!("opened {id} in your browser");
    } else {
        eprintln!("could not launch a browser (xdg-open); open this URL:");
        print(&format!("{url}\n"));
    }
    Ok(())
}

/// An HTML page that sends the browser to `url` without keeping it in history.
fn redirect_page(url: &str) -> String {
    let escaped = dcs_net::escape::html(url);
    format!(
        "<!doctype html>\n<meta charset=\"utf-8\">\n<meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta http-equiv=\"refresh\" content=\"0;url={escaped}\">\n\
         <title>Opening…</title>\n<a href=\"{escaped}\">Open the instance</a>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redirect_page_escapes_the_url() {
        let page = redirect_page("http://h/i/?a=1&tkn=\"x\"");
        assert!(
            page.contains("url=http://h/i/?a=1&amp;tkn=&quot;x&quot;\""),
            "{page}"
        );
    }
}
