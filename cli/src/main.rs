//! `dcs`: the command-line client of the management API (being written; see issue 6).

fn main() {
    eprintln!("dcs: not built yet");
    std::process::exit(2);
}
