//! The grader from the outside, as learners, authors and classrooms run it.
//!
//! One test binary, so that its tests share the machine: the curriculum's proof (minutes, in the
//! workbook's build directory) runs beside the classroom tests (in a build directory of their
//! own). Tests run in the order of their names, so the longest one is named to start first.

mod common;

mod curriculum;
mod forgery;
mod hostile;
mod instructor;
mod learner;
mod pull_requests;
