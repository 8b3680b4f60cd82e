//! A series of frames (`t.frames()`, POST /frames): the times they are taken at. The hosts ask
//! their engine for each in turn (`te_decode_next` for `seek: exact`, so each packet is decoded
//! at most once) and hand each frame on as it comes.

use thumbnail_vocabulary::Series;

use crate::sprite::sprite_times;

/// The times of the series, in increasing order: those asked, or spread as a contact sheet's.
pub fn series_times(duration: Option<f64>, series: &Series) -> Vec<f64> {
    match series {
        Series::Times(times) => times.clone(),
        Series::Spread(spread) => sprite_times(duration, *spread),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use thumbnail_vocabulary::FrameTimes;

    #[test]
    fn asked_or_spread() {
        assert_eq!(
            series_times(Some(10.0), &Series::Times(vec![0.5, 20.0])),
            vec![0.5, 20.0]
        );
        assert_eq!(
            series_times(Some(10.0), &Series::Spread(FrameTimes::Count(2))),
            vec![2.5, 7.5]
        );
        assert_eq!(
            series_times(Some(10.0), &Series::Spread(FrameTimes::Every(5.0))),
            vec![0.0, 5.0]
        );
    }
}
