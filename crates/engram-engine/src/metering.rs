//! What LLM and embedding calls cost: the configured price table.

use std::collections::BTreeMap;
use std::str::FromStr;

/// USD per million tokens, in and out, for one model.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

/// Prices by model name (`ENGRAM_PRICES`: `model=IN/OUT,...`). A model not
/// listed costs nothing: a local model's tokens are still counted, only
/// their cost is 0.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prices(BTreeMap<String, Price>);

impl Prices {
    /// The cost in USD of `input` and `output` tokens of `model`.
    pub fn cost(&self, model: &str, input: u64, output: u64) -> f64 {
        self.0.get(model).map_or(0.0, |p| {
            (input as f64 * p.input_per_million + output as f64 * p.output_per_million) / 1e6
        })
    }
}

impl FromStr for Prices {
    type Err = String;

    fn from_str(s: &str) -> Result<Prices, String> {
        let mut prices = BTreeMap::new();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || {
                format!(
                    "`{entry}` is not `model=IN/OUT` (USD per million tokens in and out, \
                     e.g. `gpt-4o-mini=0.15/0.6`)"
                )
            };
            let (model, pair) = entry.rsplit_once('=').ok_or_else(bad)?;
            let (input, output) = pair.split_once('/').ok_or_else(bad)?;
            let number = |v: &str| {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite() && *n >= 0.0)
                    .ok_or_else(bad)
            };
            let price = Price {
                input_per_million: number(input)?,
                output_per_million: number(output)?,
            };
            let model = model.trim();
            if model.is_empty() {
                return Err(bad());
            }
            if prices.insert(model.to_string(), price).is_some() {
                return Err(format!("model `{model}` is priced twice"));
            }
        }
        Ok(Prices(prices))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_and_cost_per_million() {
        let p: Prices = "gpt-4o-mini=0.15/0.6, bge-small-en-v1.5=0.02/0"
            .parse()
            .unwrap();
        assert!((p.cost("gpt-4o-mini", 1_000_000, 500_000) - 0.45).abs() < 1e-12);
        assert!((p.cost("bge-small-en-v1.5", 50_000, 0) - 0.001).abs() < 1e-12);
        assert_eq!(p.cost("unlisted", 10, 10), 0.0);
        assert_eq!("".parse::<Prices>().unwrap(), Prices::default());
        // A model name may itself hold '=' or '/' before the last '='.
        let p: Prices = "org/model=1/2".parse().unwrap();
        assert!((p.cost("org/model", 1_000_000, 1_000_000) - 3.0).abs() < 1e-12);
    }

    #[test]
    fn bad_prices_say_the_format() {
        for bad in ["m", "m=1", "m=x/1", "m=-1/1", "=1/1", "m=1/inf"] {
            let e = bad.parse::<Prices>().unwrap_err();
            assert!(e.contains("model=IN/OUT"), "{bad}: {e}");
        }
        assert!(
            "m=1/1,m=2/2"
                .parse::<Prices>()
                .unwrap_err()
                .contains("twice")
        );
    }
}
