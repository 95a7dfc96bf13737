use super::Invalid;

/// A point on the map in WGS-84 degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coordinates {
    lat: f64,
    lng: f64,
}

impl Coordinates {
    /// Requires a latitude in [-90, 90] and a longitude in [-180, 180].
    pub fn parse(lat: f64, lng: f64) -> Result<Self, Invalid> {
        if !(-90.0..=90.0).contains(&lat) {
            return Err(Invalid::new("lat", "must be between -90 and 90"));
        }
        if !(-180.0..=180.0).contains(&lng) {
            return Err(Invalid::new("lng", "must be between -180 and 180"));
        }
        Ok(Coordinates { lat, lng })
    }

    /// Degrees north.
    pub fn lat(self) -> f64 {
        self.lat
    }

    /// Degrees east.
    pub fn lng(self) -> f64 {
        self.lng
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_and_not_a_number_are_refused() {
        assert!(Coordinates::parse(23.13, 113.26).is_ok());
        assert_eq!(Coordinates::parse(91.0, 0.0).unwrap_err().field, "lat");
        assert_eq!(Coordinates::parse(0.0, -180.5).unwrap_err().field, "lng");
        assert!(Coordinates::parse(f64::NAN, 0.0).is_err());
    }
}
