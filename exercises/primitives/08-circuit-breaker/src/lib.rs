//! Being written.

pub fn placeholder() {
    todo!()
}
