//! The hashed folder: one file per certificate under its subject hash, made whole
//! or not at all, checked before use, repaired when damaged; and the folder made for
//! the next start.

use super::super::test_ca::TestCa;
use super::super::{make_folder_for_next_start, openssl_env, written, Written};
use super::*;

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_certificate_has_a_file_under_its_subject_hash() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::new("folder CA");
    let extra = ca.write_ca(tmp.path());
    let bundle = Bundle::from_sources(Some(&extra), &[]).expect("bundle");
    let trust = tmp.path().join("trust");
    assert_eq!(ready(&bundle, &trust), None);

    let folder = make(&bundle, &trust).expect("made");
    assert_eq!(ready(&bundle, &trust), Some(folder.clone()));
    assert_eq!(std::fs::metadata(&folder.empty).expect("empty").len(), 0);
    let names = listing(&folder.dir);
    assert_eq!(names.len(), bundle.len());
    for der in bundle.certificates() {
        let hash = subject_hash(der).expect("a subject");
        let mut pem = String::new();
        pem_encode(der, &mut pem);
        let found = names
            .iter()
            .filter(|n| n.starts_with(&format!("{hash:08x}.")))
            .any(|n| std::fs::read_to_string(folder.dir.join(n)).expect("read") == pem);
        assert!(found, "{hash:08x}");
    }
    let hashed = listing(&trust)
        .into_iter()
        .filter(|n| n.starts_with("hashed-") || n.starts_with('.'))
        .count();
    assert_eq!(
        hashed,
        1,
        "no temporary folder is left: {:?}",
        listing(&trust)
    );
}

#[test]
fn a_damaged_folder_is_not_used_and_is_made_again() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bundle = Bundle::from_sources(None, &[]).expect("bundle");
    let trust = tmp.path().join("trust");
    let folder = make(&bundle, &trust).expect("made");
    let victim = folder.dir.join(&listing(&folder.dir)[0]);
    std::fs::write(&victim, "").expect("truncate");
    assert_eq!(ready(&bundle, &trust), None, "a truncated file is noticed");
    assert_eq!(make(&bundle, &trust).expect("made again"), folder);

    // A certificate of the same size, or one more, put there by the workspace's
    // user: not trusted by the next transfer.
    let mut other = std::fs::read(&victim).expect("read");
    let middle = other.len() / 2;
    other[middle] = if other[middle] == b'A' { b'B' } else { b'A' };
    std::fs::write(&victim, &other).expect("tamper");
    assert_eq!(ready(&bundle, &trust), None, "a changed file is noticed");
    assert_eq!(make(&bundle, &trust).expect("made again"), folder);
    let ca = TestCa::new("planted CA");
    std::fs::write(folder.dir.join("0badc0de.0"), &ca.ca_pem).expect("plant");
    assert_eq!(ready(&bundle, &trust), None, "an extra file is noticed");
    assert_eq!(make(&bundle, &trust).expect("made again"), folder);

    // The empty file as a symlink to an empty file that could be filled later.
    let elsewhere = tmp.path().join("later.pem");
    std::fs::write(&elsewhere, "").expect("write");
    std::fs::remove_file(&folder.empty).expect("remove");
    std::os::unix::fs::symlink(&elsewhere, &folder.empty).expect("symlink");
    assert_eq!(
        ready(&bundle, &trust),
        None,
        "a symlink is not the empty file"
    );
    assert_eq!(make(&bundle, &trust).expect("made again"), folder);
    assert!(std::fs::symlink_metadata(&folder.empty)
        .expect("lstat")
        .file_type()
        .is_file());
    assert_eq!(make(&bundle, &trust).expect("made again"), folder);
    assert_eq!(ready(&bundle, &trust), Some(folder));
}

#[test]
fn another_bundle_gets_a_folder_of_its_own() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let trust = tmp.path().join("trust");
    let plain = Bundle::from_sources(None, &[]).expect("bundle");
    let extra = TestCa::new("other CA").write_ca(tmp.path());
    let more = Bundle::from_sources(Some(&extra), &[]).expect("bundle");
    let a = make(&plain, &trust).expect("made");
    let b = make(&more, &trust).expect("made");
    assert_ne!(a.dir, b.dir);
    assert_eq!(ready(&plain, &trust), Some(a), "the first stays usable");
}

#[test]
fn the_folder_is_made_for_the_next_start_not_this_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let first = written(tmp.path(), None).expect("written");
    assert_eq!(first.folder, None, "a fresh volume has none yet");
    assert_eq!(
        openssl_env(&first)[0].1,
        first.file.clone().into_os_string()
    );
    let trust = tmp.path().join(super::super::DIR);
    assert_eq!(ready(&first.bundle, &trust), None);
    make_folder_for_next_start(tmp.path(), None);
    let folder = ready(&first.bundle, &trust).expect("made for the next start");
    let next = Written {
        bundle: first.bundle.clone(),
        file: first.file.clone(),
        folder: Some(folder.clone()),
    };
    assert_eq!(
        openssl_env(&next),
        vec![
            ("SSL_CERT_FILE".into(), folder.empty.into_os_string()),
            ("SSL_CERT_DIR".into(), folder.dir.into_os_string()),
        ]
    );
}

#[tokio::test]
async fn a_started_workspace_leaves_the_folder_for_its_next_start() {
    let upstream = crate::fixtures::Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let env = crate::fixtures::env(&upstream.base(), ws.path());
    let trust = env.config_dir().join(super::super::DIR);
    let running = crate::fixtures::Running::ready(env).await;
    let bundle = Bundle::build(None).expect("bundle");
    let deadline = std::time::Instant::now() + crate::fixtures::PATIENCE;
    while ready(&bundle, &trust).is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "no folder after the start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    running.stop().await.expect("stopped");
}
