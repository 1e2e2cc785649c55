//! The `dilated` command.
fn main() {
    println!("dilated: the command is being built");
}
