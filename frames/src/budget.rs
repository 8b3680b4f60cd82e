//! One budget for the pixels a job holds at once, in both hosts: every picture a job of many
//! frames will hold (a sheet's canvas and its tile in flight, an animation's frames, a series'
//! frames) is counted before the host's engine is asked for it, its size being what the engine
//! makes of the video's frames in the asked box (`te_output_size`), and every frame is then asked
//! in that box, so none can come out larger (a stream whose resolution grows is scaled into it).
//! Past the limit, nothing more is decoded: [`Failed::TooLarge`], naming the limit.

use crate::Failed;

#[derive(Debug)]
pub struct PixelBudget {
    limit: u64,
    /// What the limit is called where it is set (`--max-pixels`, the browser's limit).
    name: &'static str,
    held: u64,
}

impl PixelBudget {
    pub fn new(limit: u64, name: &'static str) -> PixelBudget {
        PixelBudget { limit, name, held: 0 }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Pixels counted as held now.
    pub fn held(&self) -> u64 {
        self.held
    }

    /// Counts `pixels` more as held, before they are allocated; past the limit nothing is counted
    /// and the refusal says what (`what`) would have needed them.
    pub fn reserve<E>(&mut self, pixels: u64, what: impl FnOnce() -> String) -> Result<(), Failed<E>> {
        match self.held.checked_add(pixels) {
            Some(total) if total <= self.limit => {
                self.held = total;
                Ok(())
            }
            _ => Err(Failed::TooLarge(format!(
                "{} would hold {} pixels at once, more than the limit of {} pixels ({}); ask fewer frames or a smaller size",
                what(),
                self.held.saturating_add(pixels),
                self.limit,
                self.name
            ))),
        }
    }

    /// `count` pictures of `size`, counted (see [`PixelBudget::reserve`]).
    pub fn reserve_pictures<E>(
        &mut self,
        count: usize,
        size: (u32, u32),
        what: impl FnOnce() -> String,
    ) -> Result<(), Failed<E>> {
        let pixels = (count as u64).saturating_mul(u64::from(size.0) * u64::from(size.1));
        self.reserve(pixels, what)
    }

    /// Pixels no longer held.
    pub fn release(&mut self, pixels: u64) {
        self.held = self.held.saturating_sub(pixels);
    }
}

/// Refuses a picture larger than the box it was asked in: the host's engine broke its promise,
/// and the budget counted the box.
pub fn within<E>(width: u32, height: u32, size: (u32, u32)) -> Result<(), Failed<E>> {
    if width > size.0 || height > size.1 {
        return Err(Failed::TooLarge(format!(
            "a frame came out {width}x{height}, larger than the {}x{} it was asked in",
            size.0, size.1
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_until_the_limit_and_names_it() {
        let mut budget = PixelBudget::new(1000, "--max-pixels");
        budget.reserve_pictures::<()>(2, (20, 20), || "two".into()).unwrap();
        assert_eq!(budget.held(), 800);
        let refused = budget
            .reserve_pictures::<()>(1, (20, 20), || "a third frame".into())
            .unwrap_err();
        let Failed::TooLarge(message) = refused else {
            panic!("{refused:?}")
        };
        assert!(
            message.contains("a third frame would hold 1200 pixels") && message.contains("1000 pixels (--max-pixels)"),
            "{message}"
        );
        assert_eq!(budget.held(), 800, "nothing counted past the limit");
        budget.release(400);
        budget.reserve_pictures::<()>(1, (20, 20), String::new).unwrap();
        assert_eq!(budget.held(), 800);
        assert!(budget.reserve::<()>(u64::MAX, String::new).is_err(), "no overflow");
    }

    #[test]
    fn a_frame_beyond_its_box_is_refused() {
        assert!(within::<()>(20, 10, (20, 10)).is_ok());
        assert!(matches!(within::<()>(21, 10, (20, 10)), Err(Failed::TooLarge(_))));
    }
}
