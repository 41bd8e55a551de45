fn main() { println!("placeholder: replaced by the standalone bench"); }
