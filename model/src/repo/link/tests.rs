//! Tests of [`super`]: what people paste, on each kind of git base.

use super::*;

fn opens(link: &str, base: &LinkBase) -> String {
    RepoRef::from_link_at(link, base)
        .unwrap_or_else(|e| panic!("{link:?}: {e}"))
        .as_str()
        .to_owned()
}

fn refused(link: &str, base: &LinkBase) -> String {
    RepoRef::from_link_at(link, base)
        .expect_err(link)
        .to_string()
}

#[test]
fn what_people_paste_names_the_repository() {
    for link in [
        "acme/hello",
        "  acme/hello\n",
        "acme/hello.git",
        "https://github.com/acme/hello",
        "HTTPS://GitHub.com/acme/hello/",
        "https://github.com/acme/hello.git",
        "https://www.github.com/acme/hello/tree/main/src?x=1#readme",
        "http://github.com/acme/hello#top",
        "https://github.com:443/acme/hello",
        "github.com/acme/hello",
        "git@github.com:acme/hello.git",
        "/github/acme/hello/",
        "/github/acme/hello/src/main.rs",
    ] {
        let repo = RepoRef::from_link(link).unwrap_or_else(|e| panic!("{link:?}: {e}"));
        assert_eq!(repo.as_str(), "acme/hello", "{link:?}");
    }
}

#[test]
fn anything_else_is_refused_with_the_rule() {
    for (link, why) in [
        ("", "expected owner/repo"),
        ("hello", "expected owner/repo"),
        ("https://github.com/acme", "expected owner/repo"),
        ("https://github.com", "expected owner/repo after the host"),
        (
            "https://github.com?tab=1",
            "expected owner/repo after the host",
        ),
        ("https://gitlab.com/acme/hello", "only github.com"),
        ("https://gitlab.com", "only github.com"),
        ("gitlab.com/acme/hello", "only github.com"),
        (
            "https://github.com.evil.example/acme/hello",
            "only github.com",
        ),
        (
            "https://github.com@evil.example/acme/hello",
            "only github.com",
        ),
        ("git@gitlab.com:acme/hello.git", "only github.com"),
        ("git@github.com", "expected git@host:owner/repo"),
        ("javascript:alert(1)", "expected owner/repo"),
        ("acme/../hello", ""),
        ("-acme/hello", ""),
        ("acme/hel lo", ""),
        ("acme.corp/hello", "invalid owner"),
    ] {
        let err = RepoRef::from_link(link).expect_err(link).to_string();
        assert!(err.contains(why), "{link:?}: {err}");
    }
    let long = "a/".repeat(MAX_LINK);
    let err = RepoRef::from_link(&long).expect_err("long").to_string();
    assert!(err.contains("too long") && err.len() < 200, "{err}");
}

#[test]
fn on_another_git_server_its_own_links_open_and_github_links_do_not() {
    let base = LinkBase::of_git_base("https://git.example.com");
    for link in [
        "acme/hello",
        "https://git.example.com/acme/hello",
        "https://Git.Example.com/acme/hello.git",
        "http://git.example.com:3000/acme/hello/src/branch/main",
        "git.example.com/acme/hello",
        "git@git.example.com:acme/hello.git",
        "/github/acme/hello/",
    ] {
        assert_eq!(opens(link, &base), "acme/hello", "{link:?}");
    }
    for link in [
        "https://github.com/acme/hello",
        "https://www.github.com/acme/hello",
        "github.com/acme/hello",
        "git@github.com:acme/hello.git",
        "https://git.example.com.evil.example/acme/hello",
    ] {
        let err = refused(link, &base);
        assert!(
            err.contains("only git.example.com repositories open here"),
            "{link:?}: {err}"
        );
    }
}

#[test]
fn a_port_the_base_names_must_match_and_a_path_it_has_must_lead() {
    let base = LinkBase::of_git_base("http://gitea:3000/scm/");
    for link in [
        "http://gitea:3000/scm/acme/hello",
        "https://GITEA/scm/acme/hello.git",
        "gitea:3000/scm/acme/hello/src",
        "gitea/scm/acme/hello",
        "git@gitea:acme/hello.git",
        "acme/hello",
    ] {
        assert_eq!(opens(link, &base), "acme/hello", "{link:?}");
    }
    for link in [
        "http://gitea:8080/scm/acme/hello",
        "http://gitea:3000/acme/hello",
        "http://gitea:3000/other/acme/hello",
        "http://gitea:3000",
    ] {
        let err = refused(link, &base);
        assert!(
            err.contains("only gitea:3000/scm repositories"),
            "{link:?}: {err}"
        );
    }
    let v6 = LinkBase::of_git_base("http://[::1]:9418");
    assert_eq!(opens("http://[::1]:9418/acme/hello", &v6), "acme/hello");
    assert!(refused("http://[::1]:1/acme/hello", &v6).contains("only [::1]:9418"));
}

#[test]
fn a_directory_base_takes_no_links_and_a_client_takes_any_host() {
    let local = LinkBase::of_git_base("file:///srv/git");
    assert_eq!(opens("acme/hello", &local), "acme/hello");
    assert_eq!(opens("/github/acme/hello/src", &local), "acme/hello");
    for link in [
        "https://github.com/acme/hello",
        "git@github.com:acme/hello.git",
        "github.com/acme/hello",
    ] {
        assert!(
            refused(link, &local).contains("give owner/repo"),
            "{link:?}"
        );
    }
    let any = LinkBase::any_host();
    for link in [
        "acme/hello",
        "https://gitlab.com/acme/hello/-/tree/main",
        "https://github.com/acme/hello.git",
        "git.example.com:3000/acme/hello",
        "git@git.example.com:acme/hello.git",
    ] {
        assert_eq!(opens(link, &any), "acme/hello", "{link:?}");
    }
    assert!(refused("https://gitlab.com/acme", &any).contains("expected owner/repo"));
}
