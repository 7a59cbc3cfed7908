scene_api! {
    crate redis_server;

    use std::io;
    use std::net::TcpListener;

    pub struct Server { .. }

    impl Server {
        pub fn start(listener: TcpListener) -> io::Result<Server>;
        pub fn clients(&self) -> usize;
    }
}
