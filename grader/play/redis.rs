//! The redis playground: the learner's server on a port of this machine, for `redis-cli`,
//! `redis-benchmark` and any other client, until its input ends.

use std::io::{BufRead, Write};
use std::net::TcpListener;

use redis_server::Server;

const DEFAULT_PORT: u16 = 6380;

const HELP: &str = "\
clients   how many clients are connected now
quit      stop the server (so does the end of the input)";

pub fn main() {
    let port = match port() {
        Ok(port) => port,
        Err(why) => {
            println!("{why}");
            return;
        }
    };
    // Bound here, in the playground, and handed to the server: clients on this machine reach
    // it whatever network the server's own process sees.
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(listener) => listener,
        Err(error) => {
            println!("cannot listen on 127.0.0.1:{port}: {error} (`--port N` picks another)");
            return;
        }
    };
    let server = match Server::start(listener) {
        Ok(server) => server,
        Err(error) => {
            println!("Server::start failed: {error}");
            return;
        }
    };
    println!("The server listens on 127.0.0.1:{port}. In another terminal:");
    println!("  redis-cli -p {port} ping");
    println!("  redis-benchmark -p {port} -t set,get,lpush -n 100000 -P 16 -q");
    println!("Type `help` for this prompt's commands.");
    let stdin = std::io::stdin();
    loop {
        print!("redis> ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).unwrap_or(0) == 0 {
            println!();
            break;
        }
        match line.trim() {
            "" => {}
            "help" => println!("{HELP}"),
            "clients" => match server.clients() {
                1 => println!("1 client connected"),
                n => println!("{n} clients connected"),
            },
            "quit" | "exit" => break,
            other => println!("unknown command {other:?}; `help` lists them"),
        }
    }
    println!("server stopped");
}

/// The port from `--port N`, as `cargo grade play redis --port N` passes it.
fn port() -> Result<u16, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(DEFAULT_PORT),
        [flag, port] if flag == "--port" => port
            .parse()
            .map_err(|_| format!("--port wants a port number, not {port:?}")),
        other => Err(format!("unexpected arguments: {other:?}")),
    }
}
