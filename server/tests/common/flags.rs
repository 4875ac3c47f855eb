//! Command-line flags for a server a test starts in-process: the kit's defaults, which each test may override or
//! extend.

/// Flags in the order given; `set` replaces a flag already there (clap refuses a flag given twice).
#[derive(Default)]
pub struct Flags(Vec<(String, Option<String>)>);

impl Flags {
    /// Sets `flag` to `value`, replacing the default if there is one.
    pub fn set(&mut self, flag: &str, value: impl ToString) -> &mut Self {
        let value = Some(value.to_string());
        match self.0.iter_mut().find(|(f, _)| f == flag) {
            Some(entry) => entry.1 = value,
            None => self.0.push((flag.to_owned(), value)),
        }
        self
    }

    /// Adds a flag that takes no value.
    pub fn on(&mut self, flag: &str) -> &mut Self {
        self.0.push((flag.to_owned(), None));
        self
    }

    /// The command line, program name first.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec!["hearth".to_owned()];
        for (flag, value) in &self.0 {
            args.push(flag.clone());
            args.extend(value.clone());
        }
        args
    }
}
