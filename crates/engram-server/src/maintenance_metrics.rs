//! The `engram maintain` metrics. The process that ran a task is gone by
//! the time Prometheus scrapes (a CronJob pod), so each scrape of any
//! replica reads them from the run records in the store: every replica
//! reports the same values, and alerts aggregate with `max`.

use engram_store::Store;

pub async fn refresh(store: &dyn Store) {
    let totals = match store.task_totals().await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the maintenance runs for /metrics");
            return;
        }
    };
    for t in totals {
        let task = t.task;
        if let Some(at) = t.last_success {
            metrics::gauge!("engram_maintenance_last_success_timestamp_seconds", "task" => task.clone())
                .set(at.timestamp_micros() as f64 / 1e6);
        }
        metrics::gauge!("engram_maintenance_duration_seconds", "task" => task.clone())
            .set(t.last_duration_seconds);
        for (result, n) in [("ok", t.runs_ok), ("failed", t.runs_failed)] {
            metrics::counter!("engram_maintenance_runs_total", "task" => task.clone(), "result" => result)
                .absolute(n);
        }
        for (outcome, n) in t.items {
            metrics::counter!("engram_maintenance_items_total", "task" => task.clone(), "outcome" => outcome)
                .absolute(n);
        }
    }
}
