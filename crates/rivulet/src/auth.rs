//! `rivulet auth …`: helpers that write `--auth-file` lines, so no one has to hash a password or token by hand (or be tempted to store it in plaintext).

use std::io::{BufRead, IsTerminal, Write};

use anyhow::bail;
use clap::Subcommand;
use rivulet_api::security::auth::{hash_password, hash_token, new_token};

/// Shorter passwords are refused: they fall to guessing (MLflow's basic-auth also asks for 12).
const MIN_PASSWORD_CHARS: usize = 12;

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Read a password (prompted without echo, or from standard input) and print its argon2 hash,
    /// as a whole `user:` line with --user.
    HashPassword {
        /// Print `user:<NAME>:<hash>`, ready for the auth file.
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
    },
    /// Make a new random bearer token: prints the token (for clients) and its `token:` line.
    NewToken {
        /// Name of the token in the auth file and in logs (e.g. otel-collector, ci).
        #[arg(long, default_value = "default")]
        name: String,
    },
    /// Read an existing token from standard input and print its `token:` line.
    HashToken {
        #[arg(long, default_value = "default")]
        name: String,
    },
}

fn read_secret(prompt: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(prompt)?;
        let again = rpassword::prompt_password("Repeat: ")?;
        if first != again {
            bail!("the two entries differ");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn check_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty() || name.contains(':') || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("the name must be non-empty, without ':', spaces or control characters");
    }
    Ok(())
}

pub fn run(command: AuthCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        AuthCommand::HashPassword { user } => {
            if let Some(user) = &user {
                check_name(user)?;
            }
            let password = read_secret("Password: ")?;
            if password.chars().count() < MIN_PASSWORD_CHARS {
                bail!("the password must have at least {MIN_PASSWORD_CHARS} characters");
            }
            let hash = hash_password(&password).map_err(anyhow::Error::msg)?;
            match user {
                Some(user) => writeln!(out, "user:{user}:{hash}")?,
                None => writeln!(out, "{hash}")?,
            }
        }
        AuthCommand::NewToken { name } => {
            check_name(&name)?;
            let token = new_token();
            writeln!(out, "# The token, for clients (MLFLOW_TRACKING_TOKEN, or the header `Authorization: Bearer <token>`); it is not stored:")?;
            writeln!(out, "{token}")?;
            writeln!(out, "# The line for the --auth-file:")?;
            writeln!(out, "token:{name}:{}", hash_token(&token))?;
        }
        AuthCommand::HashToken { name } => {
            check_name(&name)?;
            let token = read_secret("Token: ")?;
            if token.is_empty() {
                bail!("the token is empty");
            }
            writeln!(out, "token:{name}:{}", hash_token(&token))?;
        }
    }
    Ok(())
}
