//! `engram tenants list|create|delete` and `engram keys list|create|revoke`
//! (the admin key).

use reqwest::Method;
use serde_json::{Value, json};

use super::Output;
use super::table::objects;
use crate::client::Api;

#[derive(clap::Subcommand, Debug)]
pub enum Tenants {
    /// Every tenant.
    List,
    /// Create a tenant; prints it.
    Create { name: String },
    /// Delete a tenant and erase every memory of it.
    Delete { id: String },
}

#[derive(clap::Subcommand, Debug)]
pub enum Keys {
    /// The keys of a tenant (never their secrets).
    List { tenant_id: String },
    /// Make a key; its secret is printed this once.
    Create {
        tenant_id: String,
        #[arg(long, default_value = "cli")]
        name: String,
        /// read, write or both.
        #[arg(long, value_delimiter = ',', default_value = "read,write")]
        scopes: Vec<String>,
    },
    /// The key stops working at once.
    Revoke { tenant_id: String, key_id: String },
}

pub fn tenants(api: &Api, cmd: &Tenants, out: Output) -> anyhow::Result<()> {
    match cmd {
        Tenants::List => {
            let r = api.call(Method::GET, "/v1/tenants", &[], None)?;
            out.print(&r["items"], |v| objects(v, &["id", "name", "created_at"]))
        }
        Tenants::Create { name } => {
            let t = api.call(
                Method::POST,
                "/v1/tenants",
                &[],
                Some(&json!({ "name": name })),
            )?;
            out.print(&t, |t| objects(&json!([t]), &["id", "name", "created_at"]))
        }
        Tenants::Delete { id } => {
            api.call(Method::DELETE, &format!("/v1/tenants/{id}"), &[], None)?;
            out.print(&json!({ "deleted": id }), |_| {
                format!("deleted tenant {id} and its memories")
            })
        }
    }
}

pub fn keys(api: &Api, cmd: &Keys, out: Output) -> anyhow::Result<()> {
    match cmd {
        Keys::List { tenant_id } => {
            let r = api.call(
                Method::GET,
                &format!("/v1/tenants/{tenant_id}/keys"),
                &[],
                None,
            )?;
            out.print(&r["items"], |v| {
                objects(v, &["id", "name", "scopes", "created_at"])
            })
        }
        Keys::Create {
            tenant_id,
            name,
            scopes,
        } => {
            let body = json!({ "name": name, "scopes": scopes });
            let k = api.call(
                Method::POST,
                &format!("/v1/tenants/{tenant_id}/keys"),
                &[],
                Some(&body),
            )?;
            out.print(&k, |k: &Value| {
                format!(
                    "{}\n\nsecret (shown once): {}",
                    objects(&json!([k]), &["id", "name", "scopes"]),
                    k["key"].as_str().unwrap_or("")
                )
            })
        }
        Keys::Revoke { tenant_id, key_id } => {
            api.call(
                Method::DELETE,
                &format!("/v1/tenants/{tenant_id}/keys/{key_id}"),
                &[],
                None,
            )?;
            out.print(&json!({ "revoked": key_id }), |_| {
                format!("revoked key {key_id}")
            })
        }
    }
}
