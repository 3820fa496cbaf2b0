//! Register, verify, unregister and token reset (§3).

use http::Method;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::http::ApiRequest;
use crate::secret::Token;
use crate::wire::{
    RegisterRunnerRequest, RegisteredRunner, ResetTokenRequest, ResetTokenResponse, RunnerInfo,
    UnregisterRequest, VerifyRunnerRequest,
};

impl Client {
    /// Legacy registration: `POST runners` with a registration token (§3.1).
    ///
    /// 403 is [`Error::Forbidden`] ("check registration token"); other failures carry the
    /// server's rendered message.
    pub async fn register_runner(
        &self,
        registration_token: &Token,
        mut request: RegisterRunnerRequest,
    ) -> Result<RegisteredRunner> {
        const ENDPOINT: &str = "register_runner";
        request.token = registration_token.clone();
        let api_request = ApiRequest::new(
            ENDPOINT,
            Method::POST,
            self.endpoint_url("runners")?,
            self.inner.timeouts.request,
        )
        .secret_header("runner-token", registration_token.expose())?
        .header("accept", "application/json")?
        .json(&request)?;
        let response = self.send(&api_request).await?;
        match response.status {
            201 => {
                tracing::info!(short_token = %registration_token.short(), "Registering runner... succeeded");
                response.decode(ENDPOINT)
            }
            403 => {
                tracing::error!("Registering runner... forbidden (check registration token)");
                Err(response.into_error(ENDPOINT))
            }
            _ => {
                let error = response.into_error(ENDPOINT);
                tracing::error!(status = %error, "Registering runner... failed");
                Err(error)
            }
        }
    }

    /// `POST runners/verify` (§3.2), also the registration path for `glrt-` tokens.
    ///
    /// 403 is [`Error::InvalidRunnerToken`]. An old server's plain-text `200` is answered
    /// by repeating the request once and yields `id = 0`.
    pub async fn verify_runner(
        &self,
        token: &Token,
        system_id: &str,
        info: &RunnerInfo,
    ) -> Result<RegisteredRunner> {
        const ENDPOINT: &str = "verify_runner";
        let body = VerifyRunnerRequest {
            info: info.clone(),
            token: token.clone(),
            system_id: system_id.to_owned(),
        };
        let api_request = ApiRequest::new(
            ENDPOINT,
            Method::POST,
            self.endpoint_url("runners/verify")?,
            self.inner.timeouts.request,
        )
        .secret_header("runner-token", token.expose())?
        .header("accept", "application/json")?
        .json(&body)?;
        let response = self.send(&api_request).await?;
        self.remember_last_update(token, &response);
        match response.status {
            200 if response.is_json() => {
                tracing::info!(short_token = %token.short(), "Verifying runner... is valid");
                response.decode(ENDPOINT)
            }
            200 => {
                // Older servers answer plain text: repeat once without expecting JSON.
                let repeated = self.send(&api_request).await?;
                if repeated.status != 200 {
                    return Err(repeated.into_error(ENDPOINT));
                }
                tracing::info!(short_token = %token.short(), "Verifying runner... is alive");
                Ok(RegisteredRunner {
                    id: 0,
                    token: token.clone(),
                    token_expires_at: None,
                })
            }
            403 => {
                if token.is_runner_authentication_token() {
                    tracing::info!(short_token = %token.short(), "Verifying runner... is not valid");
                } else {
                    tracing::error!(short_token = %token.short(), "Verifying runner... is removed");
                }
                Err(Error::InvalidRunnerToken { endpoint: ENDPOINT })
            }
            _ => {
                let error = response.into_error(ENDPOINT);
                tracing::error!(short_token = %token.short(), status = %error, "Verifying runner... failed");
                Err(error)
            }
        }
    }

    /// Unregisters: `DELETE runners/managers` (this machine only) for `glrt-` tokens,
    /// `DELETE runners` (the whole runner) for legacy tokens (§3.3).
    pub async fn unregister(&self, token: &Token, system_id: &str) -> Result<()> {
        if token.is_runner_authentication_token() {
            self.unregister_manager(token, system_id).await
        } else {
            self.unregister_runner(token).await
        }
    }

    /// `DELETE runners`: deletes the runner.
    pub async fn unregister_runner(&self, token: &Token) -> Result<()> {
        let body = UnregisterRequest {
            token: token.clone(),
            system_id: None,
        };
        self.delete(
            "unregister_runner",
            "runners",
            token,
            &body,
            "Unregistering runner from GitLab",
        )
        .await
    }

    /// `DELETE runners/managers`: deletes only this machine's runner manager.
    pub async fn unregister_manager(&self, token: &Token, system_id: &str) -> Result<()> {
        let body = UnregisterRequest {
            token: token.clone(),
            system_id: Some(system_id.to_owned()),
        };
        self.delete(
            "unregister_manager",
            "runners/managers",
            token,
            &body,
            "Unregistering runner manager from GitLab",
        )
        .await
    }

    async fn delete(
        &self,
        endpoint: &'static str,
        path: &str,
        token: &Token,
        body: &UnregisterRequest,
        log_prefix: &'static str,
    ) -> Result<()> {
        let api_request = ApiRequest::new(
            endpoint,
            Method::DELETE,
            self.endpoint_url(path)?,
            self.inner.timeouts.request,
        )
        .secret_header("runner-token", token.expose())?
        .json(body)?;
        let response = self.send(&api_request).await?;
        match response.status {
            204 => {
                tracing::info!(short_token = %token.short(), "{log_prefix} succeeded");
                Ok(())
            }
            403 => {
                tracing::error!(short_token = %token.short(), "{log_prefix} forbidden");
                Err(response.into_error(endpoint))
            }
            _ => {
                let error = response.into_error(endpoint);
                tracing::error!(short_token = %token.short(), status = %error, "{log_prefix} failed");
                Err(error)
            }
        }
    }

    /// `POST runners/reset_authentication_token` with the current token (no `RUNNER-TOKEN` header).
    pub async fn reset_token(&self, token: &Token) -> Result<ResetTokenResponse> {
        let api_request = ApiRequest::new(
            "reset_token",
            Method::POST,
            self.endpoint_url("runners/reset_authentication_token")?,
            self.inner.timeouts.request,
        )
        .header("accept", "application/json")?
        .json(&ResetTokenRequest {
            token: token.clone(),
        })?;
        self.finish_reset(&api_request).await
    }

    /// `POST runners/<id>/reset_authentication_token` with a personal access token
    /// (body `null`, as the reference sends).
    pub async fn reset_token_with_pat(
        &self,
        runner_id: i64,
        personal_access_token: &Token,
    ) -> Result<ResetTokenResponse> {
        let path = format!("runners/{runner_id}/reset_authentication_token");
        let api_request = ApiRequest::new(
            "reset_token",
            Method::POST,
            self.endpoint_url(&path)?,
            self.inner.timeouts.request,
        )
        .secret_header("private-token", personal_access_token.expose())?
        .header("accept", "application/json")?
        .json(&serde_json::Value::Null)?;
        self.finish_reset(&api_request).await
    }

    async fn finish_reset(&self, api_request: &ApiRequest) -> Result<ResetTokenResponse> {
        let response = self.send(api_request).await?;
        match response.status {
            201 => response.decode("reset_token"),
            403 => {
                tracing::error!(
                    "Resetting runner authentication token... failed (check used token)"
                );
                Err(response.into_error("reset_token"))
            }
            _ => {
                let error = response.into_error("reset_token");
                tracing::error!(status = %error, "Resetting runner authentication token... failed");
                Err(error)
            }
        }
    }
}
