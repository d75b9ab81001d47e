//! The terminal panel added to the `none` IDE's page: a `<pre>` fed by the
//! `/_dcs/terminal` WebSocket (see `panel.js`; no library, no CDN).

/// The panel's markup and script.
pub fn html() -> String {
    format!(
        "<section id=\"dcs-terminal\"><h2>Terminal</h2>\
         <pre id=\"dcs-term\" tabindex=\"0\" data-state=\"connecting\" \
         style=\"height:22em;overflow:auto;background:#111;color:#ddd;padding:.5em;\
         white-space:pre-wrap;word-break:break-all;outline:none\"></pre>\
         <p>Click the terminal and type. <button type=\"button\" id=\"dcs-term-reconnect\">\
         New session</button></p></section>\n<script>{}</script>",
        include_str!("panel.js")
    )
}

/// `page` (a whole document) with the panel added at the end of its body.
pub fn add_to(page: &str) -> String {
    match page.rfind("</body>") {
        Some(at) => format!("{}{}\n{}", &page[..at], html(), &page[at..]),
        None => format!("{page}{}", html()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_panel_goes_inside_the_body_and_points_at_the_relative_endpoint() {
        let page = add_to("<html><body><h1>x</h1>\n</body></html>");
        let panel = page.find("id=\"dcs-term\"").expect("panel");
        assert!(panel < page.find("</body>").expect("body end"));
        assert!(page.contains("new URL('_dcs/terminal', location.href)"));
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "no CDN"
        );
    }
}
