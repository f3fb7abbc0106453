//! The fuzz targets' entry points: the library crates' own (`aigis_scan::fuzzing`,
//! `aigis_engine::fuzzing`), so that the regression tests replay a crash input through exactly
//! the code the target that found it ran.

pub use aigis_engine::fuzzing::image;
pub use aigis_scan::fuzzing::{
    analyzer, chat_template, member_analyzer, pickle, run, scan, zip_index,
};
