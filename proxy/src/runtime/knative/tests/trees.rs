//! The kustomize trees of `knative/` build, checked without kustomize: no
//! kustomization includes its own folder or one above it (kustomize: "cycle
//! detected"), files come from the tree's own folder (its load restrictor), every
//! reference exists, and each installable tree (one no other includes) has the
//! whole base, the proxy's settings once, and is rendered by `make manifests-check`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use crate::runtime::knative::manifests::{files, Kustomization};

/// `path` without `.` and `..` (lexically, as kustomize joins them); `None` when
/// it climbs out of `knative/`.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Some(out)
}

/// Every kustomization of the generator, by its folder (relative to `knative/`).
fn kustomizations() -> BTreeMap<PathBuf, Kustomization> {
    files()
        .iter()
        .filter(|f| f.path.ends_with("kustomization.yaml"))
        .map(|f| {
            let dir = Path::new(f.path).parent().expect("a folder").to_path_buf();
            let k =
                serde_saphyr::from_str(&f.content).unwrap_or_else(|e| panic!("{}: {e}", f.path));
            (dir, k)
        })
        .collect()
}

/// A resource: another tree (a folder with a kustomization) or a file.
enum Resource {
    Tree(PathBuf),
    File(PathBuf),
}

/// Checks one kustomization's references and returns its resources.
fn references(dir: &Path, k: &Kustomization, shipped: &BTreeSet<PathBuf>) -> Vec<Resource> {
    let trees = kustomizations();
    let at = |r: &str| {
        normalize(&dir.join(r))
            .unwrap_or_else(|| panic!("{}: {r} is outside knative/", dir.display()))
    };
    let mut out = Vec::new();
    for r in &k.resources {
        let path = at(r);
        assert!(
            !dir.starts_with(&path),
            "{}: resource {r} is its own folder or an ancestor of it (kustomize: cycle detected)",
            dir.display()
        );
        if trees.contains_key(&path) {
            out.push(Resource::Tree(path));
        } else {
            assert!(
                shipped.contains(&path),
                "{}: {r} does not exist",
                dir.display()
            );
            assert!(
                path.starts_with(dir),
                "{}: file {r} is outside the tree's folder (kustomize refuses it)",
                dir.display()
            );
            out.push(Resource::File(path));
        }
    }
    let files = k
        .patches
        .iter()
        .map(|p| &p.path)
        .chain(k.config_map_generator.iter().flat_map(|g| g.envs.iter()));
    for f in files {
        let path = at(f);
        assert!(
            shipped.contains(&path),
            "{}: {f} does not exist",
            dir.display()
        );
        assert!(
            path.starts_with(dir),
            "{}: {f} is outside the tree's folder",
            dir.display()
        );
    }
    out
}

/// The files a tree renders and its generated ConfigMaps, walking the trees it includes.
fn walk(
    dir: &Path,
    shipped: &BTreeSet<PathBuf>,
    seen: &mut Vec<PathBuf>,
    out: &mut (BTreeSet<PathBuf>, Vec<String>),
) {
    assert!(
        !seen.contains(&dir.to_path_buf()),
        "{} is included twice: {seen:?}",
        dir.display()
    );
    seen.push(dir.to_path_buf());
    let trees = kustomizations();
    let k = &trees[dir];
    out.1
        .extend(k.config_map_generator.iter().map(|g| g.name.clone()));
    for r in references(dir, k, shipped) {
        match r {
            Resource::Tree(t) => walk(&t, shipped, seen, out),
            Resource::File(f) => {
                out.0.insert(f);
            }
        }
    }
}

/// The trees `make manifests-check` renders (its `for t in …;` list).
fn checked_by_make() -> BTreeSet<PathBuf> {
    let mk = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../mk/k8s.mk");
    let text = std::fs::read_to_string(&mk).unwrap_or_else(|e| panic!("{}: {e}", mk.display()));
    let line = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("@for t in "))
        .expect("manifests-check's loop");
    let (list, _) = line.split_once(';').expect("for t in …;");
    list.split_whitespace()
        .map(|t| match t.strip_prefix("knative") {
            Some(rest) => PathBuf::from(rest.trim_start_matches('/')),
            None => panic!("{t} is not under knative/"),
        })
        .collect()
}

#[test]
fn every_installable_tree_builds_from_its_own_folder_down() {
    let shipped: BTreeSet<PathBuf> = files().iter().map(|f| PathBuf::from(f.path)).collect();
    let trees = kustomizations();
    let mut included = BTreeSet::new();
    for (dir, k) in &trees {
        for r in references(dir, k, &shipped) {
            if let Resource::Tree(t) = r {
                included.insert(t);
            }
        }
    }
    let installable: BTreeSet<PathBuf> = trees
        .keys()
        .filter(|d| !included.contains(*d))
        .cloned()
        .collect();
    for tree in ["", "overlays/ingress-nginx", "overlays/kind"] {
        assert!(
            installable.contains(Path::new(tree)),
            "knative/{tree} is installable: {installable:?}"
        );
    }
    for root in &installable {
        let mut out = (BTreeSet::new(), Vec::new());
        walk(root, &shipped, &mut Vec::new(), &mut out);
        let (rendered, generated) = out;
        for base in [
            "namespaces",
            "rbac",
            "proxy",
            "network-policies",
            "knative-config",
        ] {
            let file = PathBuf::from(format!("base/{base}.yaml"));
            assert!(
                rendered.contains(&file),
                "knative/{}: {} missing",
                root.display(),
                file.display()
            );
        }
        assert_eq!(
            generated,
            ["dcs-proxy-config"],
            "knative/{}: the proxy's settings, once",
            root.display()
        );
    }
    assert_eq!(
        checked_by_make(),
        installable,
        "`make manifests-check` renders every installable tree"
    );
}

#[test]
fn normalize_joins_as_kustomize_does() {
    let n = |p: &str| normalize(Path::new(p));
    assert_eq!(n("overlays/kind/../.."), Some(PathBuf::new()));
    assert_eq!(n("overlays/kind/../../base"), Some(PathBuf::from("base")));
    assert_eq!(
        n("base/./proxy.yaml"),
        Some(PathBuf::from("base/proxy.yaml"))
    );
    assert_eq!(n("../x"), None);
    // The cycle this test exists for: an ancestor of the including folder.
    assert!(Path::new("overlays/kind").starts_with(PathBuf::new()));
}

#[test]
fn the_kind_tree_is_the_default_install_plus_config_deployment() {
    let content = |path: &str| {
        files()
            .into_iter()
            .find(|f| f.path == path)
            .map(|f| f.content)
            .unwrap_or_else(|| panic!("{path} is not shipped"))
    };
    for f in ["httproute.yaml", "proxy.env"] {
        assert_eq!(content(&format!("overlays/kind/{f}")), content(f), "{f}");
    }
    let kind = &kustomizations()[Path::new("overlays/kind")];
    let default = &kustomizations()[Path::new("")];
    let mut resources = default.resources.clone();
    for r in &mut resources {
        if r == "base" {
            *r = "../../base".into();
        }
    }
    resources.push("knative-config.yaml".into());
    assert_eq!(kind.resources, resources);
}
