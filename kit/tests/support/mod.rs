pub mod tiny_store;
