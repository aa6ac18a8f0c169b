//! Each setting's value from, in increasing precedence: its default, the
//! configuration file, its environment variable, its flag.
//!
//! clap could read the variables itself, but it reads them when the command
//! is built (tests setting variables would race on the one process
//! environment) and takes an empty variable as an empty value, where engram
//! has always taken it as unset (a Helm value left "" keeps the default).
//! So the environment is a function here, and the file's and the
//! environment's values become each option's default: clap's own rule (a
//! flag beats the default) and its typed parsing do the rest.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::error::ErrorKind;
use clap::{Arg, Args, Command, CommandFactory, FromArgMatches, Parser};
use engram_engine::RetrievalConfig;

use super::{Config, Tuning};

/// The setting naming the configuration file (itself not a key in it).
const FILE_SETTING: &str = "config_file";
const DEFAULT_FILE: &str = "engram.toml";
const RETRIEVAL_TABLE: &str = "retrieval";

/// `C`'s command with every setting an option of every subcommand, so
/// `engram serve --help` lists them all.
pub fn command<C: CommandFactory>() -> Command {
    Config::augment_args(C::command()).mut_args(|a| a.global(true))
}

/// Parses the command line `args` into `C` and the settings, reading
/// variables through `env` and the file named by `--config`,
/// `ENGRAM_CONFIG` or else `./engram.toml` when it exists.
pub fn parse<C: Parser>(
    args: impl IntoIterator<Item = OsString>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(C, Config), clap::Error> {
    let args: Vec<OsString> = args.into_iter().collect();
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    let declared = command::<C>();
    let parser = declared.clone().mut_args(|a| a.env(None));
    let flags = parser
        .clone()
        .try_get_matches_from(&args)
        .map_err(|e| help(&declared, &args).unwrap_or(e))?;
    let variables = variables(&declared);
    let path = flags.get_one::<PathBuf>(FILE_SETTING).cloned().or_else(|| {
        let (_, name) = variables.iter().find(|(id, _)| id == FILE_SETTING)?;
        env(name).map(PathBuf::from)
    });
    let file = File::find(path)?;
    let matches = layered(parser, &variables, &env, &file)?.try_get_matches_from(&args)?;
    let cli = C::from_arg_matches(&matches)?;
    let mut config = Config::from_arg_matches(&matches)?;
    config.retrieval = file.retrieval()?;
    config.tuning.apply(&mut config.retrieval);
    Ok((cli, config))
}

/// Each option's id and the variable it is read from.
fn variables(cmd: &Command) -> Vec<(String, String)> {
    cmd.get_arguments()
        .filter_map(|a| {
            let name = a.get_env()?.to_str()?;
            Some((a.get_id().to_string(), name.to_owned()))
        })
        .collect()
}

/// `parser` with each option's default replaced by its variable's value,
/// or else by the file's.
fn layered(
    mut parser: Command,
    variables: &[(String, String)],
    env: &dyn Fn(&str) -> Option<String>,
    file: &File,
) -> Result<Command, clap::Error> {
    for (id, name) in variables {
        let (value, origin) = match env(name) {
            Some(v) => (v, Origin::Variable(name)),
            None => match file.value(id)? {
                Some(v) => (
                    v,
                    Origin::File {
                        key: id,
                        path: &file.path,
                    },
                ),
                None => continue,
            },
        };
        if let Some(arg) = parser.get_arguments().find(|a| a.get_id() == id) {
            check(arg, &value, &origin)?;
        }
        parser = parser.mut_arg(id, |a| a.default_value(value));
    }
    Ok(parser)
}

/// `--help` and `--version` as the declared command gives them: its options
/// name their variables, the parser's do not.
fn help(declared: &Command, args: &[OsString]) -> Option<clap::Error> {
    let e = declared.clone().try_get_matches_from(args).err()?;
    matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    )
    .then_some(e)
}

/// Where a value given other than by flag came from (clap names flags).
enum Origin<'a> {
    Variable(&'a str),
    File { key: &'a str, path: &'a Path },
}

impl Origin<'_> {
    /// The origin with the value it gave, unless that is a secret.
    fn with(&self, value: Option<&str>) -> String {
        let value = value.map(|v| format!(" = {v:?}")).unwrap_or_default();
        match self {
            Origin::Variable(name) => format!("{name}{value}"),
            Origin::File { key, path } => format!("`{key}{value}` in {}", path.display()),
        }
    }
}

/// Parses `value` as `arg` would, so a bad value is reported as the
/// variable or file key it came from, with what a valid one looks like
/// (and without echoing secrets).
fn check(arg: &Arg, value: &str, origin: &Origin) -> Result<(), clap::Error> {
    let probe =
        Command::new("engram").arg(arg.clone().global(false).default_value(value.to_owned()));
    let Err(e) = probe.try_get_matches_from(["engram"]) else {
        return Ok(());
    };
    let possible: Vec<String> = arg
        .get_possible_values()
        .iter()
        .map(|v| v.get_name().to_owned())
        .collect();
    let reason = if possible.is_empty() {
        let cause =
            std::error::Error::source(&e).map_or_else(|| e.kind().to_string(), |c| c.to_string());
        match arg.get_default_values() {
            [default] => format!("{cause} (the default is {})", default.to_string_lossy()),
            _ => cause,
        }
    } else {
        format!("use one of {}", possible.join(", "))
    };
    let shown = (!arg.is_hide_env_values_set()).then_some(value);
    Err(fail(format!(
        "{} is not valid: {reason}",
        origin.with(shown)
    )))
}

fn fail(message: String) -> clap::Error {
    clap::Error::raw(ErrorKind::ValueValidation, format!("{message}\n"))
}

/// The configuration file's values.
#[derive(Default)]
struct File {
    path: PathBuf,
    table: toml::Table,
}

impl File {
    /// The file at `path`, or else `./engram.toml`, or else none.
    fn find(path: Option<PathBuf>) -> Result<File, clap::Error> {
        match path.or_else(|| Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.exists())) {
            Some(path) => File::read(path),
            None => Ok(File::default()),
        }
    }

    fn read(path: PathBuf) -> Result<File, clap::Error> {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            fail(format!(
                "cannot read the configuration file {}: {e}",
                path.display()
            ))
        })?;
        let table: toml::Table = text
            .parse()
            .map_err(|e| fail(format!("configuration file {}: {e}", path.display())))?;
        let keys = file_keys();
        if let Some(unknown) = table
            .keys()
            .find(|k| *k != RETRIEVAL_TABLE && !keys.contains(k))
        {
            return Err(fail(format!(
                "{}: unknown key `{unknown}`; the keys are {} and the [{RETRIEVAL_TABLE}] table \
                 (`engram serve --help` says what each means)",
                path.display(),
                keys.join(", ")
            )));
        }
        Ok(File { path, table })
    }

    /// The value of `key` as its flag would take it.
    fn value(&self, key: &str) -> Result<Option<String>, clap::Error> {
        Ok(match self.table.get(key) {
            None => None,
            Some(toml::Value::String(s)) => Some(s.clone()),
            Some(v @ (toml::Value::Array(_) | toml::Value::Table(_))) => {
                return Err(fail(format!(
                    "`{key}` in {} must be a single value, not {}",
                    self.path.display(),
                    v.type_str()
                )));
            }
            Some(v) => Some(v.to_string()),
        })
    }

    fn retrieval(&self) -> Result<RetrievalConfig, clap::Error> {
        let Some(table) = self.table.get(RETRIEVAL_TABLE) else {
            return Ok(RetrievalConfig::default());
        };
        table.clone().try_into().map_err(|e| {
            fail(format!(
                "[{RETRIEVAL_TABLE}] in {}: {} (docs/RETRIEVAL.md lists its keys)",
                self.path.display(),
                e.to_string().trim_end()
            ))
        })
    }
}

/// The file's keys besides `[retrieval]`: every setting but the file's own
/// name and the retrieval overrides (their keys are in `[retrieval]`).
fn file_keys() -> Vec<String> {
    let ids =
        |c: Command| -> Vec<String> { c.get_arguments().map(|a| a.get_id().to_string()).collect() };
    let overrides = ids(Tuning::augment_args(Command::new("engram")));
    ids(Config::augment_args(Command::new("engram")))
        .into_iter()
        .filter(|k| k != FILE_SETTING && !overrides.contains(k))
        .collect()
}
