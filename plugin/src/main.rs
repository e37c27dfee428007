fn main() {
    std::process::exit(sentio::cli::main());
}
