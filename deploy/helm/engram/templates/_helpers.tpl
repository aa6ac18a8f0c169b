{{/*
Names.
*/}}
{{- define "engram.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "engram.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "engram.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels. Selector labels identify the release; `component` tells the server,
the migrations Job, the backup CronJob and the test pod apart.
*/}}
{{- define "engram.selectorLabels" -}}
app.kubernetes.io/name: {{ include "engram.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "engram.labels" -}}
helm.sh/chart: {{ include "engram.chart" . }}
{{ include "engram.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: engram
{{- end }}

{{- define "engram.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "engram.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Label that lets a pod of the release namespace through the NetworkPolicy
(label names are at most 63 characters).
*/}}
{{- define "engram.clientLabel" -}}
{{- printf "%s-client" (include "engram.fullname" . | trunc 56 | trimSuffix "-") }}
{{- end }}

{{/*
CronJob names are limited to 52 characters; Job names become a 63-character
label value.
*/}}
{{- define "engram.maintainName" -}}
{{- printf "%s-maintain" (include "engram.fullname" . | trunc 45 | trimSuffix "-") }}
{{- end }}

{{- define "engram.uploadGcName" -}}
{{- printf "%s-upload-gc" (include "engram.fullname" . | trunc 42 | trimSuffix "-") }}
{{- end }}

{{- define "engram.backupName" -}}
{{- printf "%s-backup" (include "engram.fullname" . | trunc 45 | trimSuffix "-") }}
{{- end }}

{{- define "engram.migrateName" -}}
{{- printf "%s-migrate" (include "engram.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{- define "engram.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Store selection: "true" when a PostgreSQL database is configured.
*/}}
{{- define "engram.databaseEnabled" -}}
{{- if or .Values.postgresql.url .Values.postgresql.existingSecret }}true{{- end }}
{{- end }}

{{- define "engram.secretName" -}}
{{- include "engram.fullname" . }}
{{- end }}

{{- define "engram.configMapName" -}}
{{- include "engram.fullname" . }}
{{- end }}

{{- define "engram.dataClaimName" -}}
{{- default (printf "%s-data" (include "engram.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}

{{- define "engram.backupClaimName" -}}
{{- default (printf "%s-backup" (include "engram.fullname" .)) .Values.backup.storage.existingClaim }}
{{- end }}

{{/*
Secret references: (name, key) of the admin key, the database URL and the
embedder API key.
*/}}
{{- define "engram.adminKeySecretName" -}}
{{- default (include "engram.secretName" .) .Values.adminKey.existingSecret }}
{{- end }}

{{- define "engram.adminKeySecretKey" -}}
{{- if .Values.adminKey.existingSecret }}{{ .Values.adminKey.existingSecretKey }}{{ else }}admin-key{{ end }}
{{- end }}

{{- define "engram.databaseSecretName" -}}
{{- default (include "engram.secretName" .) .Values.postgresql.existingSecret }}
{{- end }}

{{- define "engram.databaseSecretKey" -}}
{{- if .Values.postgresql.existingSecret }}{{ .Values.postgresql.existingSecretKey }}{{ else }}database-url{{ end }}
{{- end }}

{{- define "engram.embedApiKeyEnabled" -}}
{{- if or .Values.engram.embedder.apiKey .Values.engram.embedder.existingSecret }}true{{- end }}
{{- end }}

{{- define "engram.embedApiKeySecretName" -}}
{{- default (include "engram.secretName" .) .Values.engram.embedder.existingSecret }}
{{- end }}

{{- define "engram.embedApiKeySecretKey" -}}
{{- if .Values.engram.embedder.existingSecret }}{{ .Values.engram.embedder.existingSecretKey }}{{ else }}embed-api-key{{ end }}
{{- end }}

{{/*
The chart-managed Secret is needed unless every secret value comes from an
existing Secret.
*/}}
{{- define "engram.createSecret" -}}
{{- $admin := not .Values.adminKey.existingSecret }}
{{- $db := and .Values.postgresql.url (not .Values.postgresql.existingSecret) }}
{{- $embed := and .Values.engram.embedder.apiKey (not .Values.engram.embedder.existingSecret) }}
{{- if or $admin $db $embed }}true{{- end }}
{{- end }}

{{/*
Admin key: the configured value, else the one already stored in the release's
Secret (so upgrades keep it), else a new random one.
*/}}
{{- define "engram.adminKeyValue" -}}
{{- if .Values.adminKey.value }}
{{- .Values.adminKey.value }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "engram.secretName" .) }}
{{- $data := dict }}
{{- if $existing }}
{{- $data = default dict (get $existing "data") }}
{{- end }}
{{- if hasKey $data "admin-key" }}
{{- index $data "admin-key" | b64dec }}
{{- else }}
{{- randAlphaNum 48 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Pod and container security contexts and the /tmp volume, shared by every
workload of the chart.
*/}}
{{- define "engram.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "engram.securityContext" -}}
{{- toYaml .Values.securityContext }}
{{- end }}

{{/*
Environment of every engram process: the ConfigMap (non-secret settings) and
the secrets. `component` "server" also gets the admin and embedder keys.
*/}}
{{- define "engram.secretEnv" -}}
{{- if include "engram.databaseEnabled" . }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "engram.databaseSecretName" . }}
      key: {{ include "engram.databaseSecretKey" . }}
{{- end }}
- name: ENGRAM_ADMIN_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "engram.adminKeySecretName" . }}
      key: {{ include "engram.adminKeySecretKey" . }}
{{- if include "engram.embedApiKeyEnabled" . }}
- name: ENGRAM_EMBED_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "engram.embedApiKeySecretName" . }}
      key: {{ include "engram.embedApiKeySecretKey" . }}
{{- end }}
{{- end }}

{{/*
engram.toml (engram.configToml) at /etc/engram/engram.toml, where the
ConfigMap's ENGRAM_CONFIG points: every pod that takes its environment from
that ConfigMap mounts it.
*/}}
{{- define "engram.configVolumeMount" -}}
{{- if .Values.engram.configToml }}
- name: config
  mountPath: /etc/engram
  readOnly: true
{{- end }}
{{- end }}

{{- define "engram.configVolume" -}}
{{- if .Values.engram.configToml }}
- name: config
  configMap:
    name: {{ include "engram.configMapName" . }}-toml
    items:
      - key: engram.toml
        path: engram.toml
{{- end }}
{{- end }}

{{/*
Checks that stop a broken configuration at install time.
*/}}
{{- define "engram.validate" -}}
{{- $db := include "engram.databaseEnabled" . }}
{{- if and .Values.postgresql.url .Values.postgresql.existingSecret }}
{{- fail "engram: set either postgresql.url or postgresql.existingSecret, not both" }}
{{- end }}
{{- if and .Values.postgresql.url (not (regexMatch "^postgres(ql)?://" .Values.postgresql.url)) }}
{{- fail "engram: postgresql.url must start with postgres:// or postgresql://" }}
{{- end }}
{{- if and (not $db) (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "engram: replicaCount=%d needs a database. The embedded store is single-replica: set postgresql.url or postgresql.existingSecret (PostgreSQL + pgvector), or keep replicaCount: 1." (int .Values.replicaCount)) }}
{{- end }}
{{- if and (not $db) .Values.autoscaling.enabled }}
{{- fail "engram: autoscaling.enabled needs a database. The embedded store is single-replica: set postgresql.url or postgresql.existingSecret (PostgreSQL + pgvector), or disable autoscaling." }}
{{- end }}
{{- if and (not $db) .Values.maintain.enabled }}
{{- fail "engram: maintain.enabled needs a database. The embedded store's data directory is held by the server: set postgresql.url or postgresql.existingSecret (PostgreSQL + pgvector), or run `engram maintain` in the server's pod." }}
{{- end }}
{{- if and (not $db) .Values.uploadGc.enabled }}
{{- fail "engram: uploadGc.enabled needs a database. The embedded store's data directory is held by the server: set postgresql.url or postgresql.existingSecret (PostgreSQL + pgvector), or run `engram maintain uploads` while the server is stopped." }}
{{- end }}
{{- if and .Values.maintain.enabled (not .Values.maintain.llm.url) }}
{{- fail "engram: maintain.enabled needs an LLM: set maintain.llm.url (an OpenAI-compatible API) and maintain.llm.model" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "engram: autoscaling.minReplicas must not exceed autoscaling.maxReplicas" }}
{{- end }}
{{- if and .Values.adminKey.value (lt (len .Values.adminKey.value) 32) }}
{{- fail "engram: adminKey.value must be at least 32 characters (engram refuses shorter admin keys)" }}
{{- end }}
{{- if and .Values.pdb.enabled .Values.pdb.minAvailable .Values.pdb.maxUnavailable }}
{{- fail "engram: set only one of pdb.minAvailable and pdb.maxUnavailable" }}
{{- end }}
{{- if and .Values.pdb.enabled (not $db) (not .Values.pdb.maxUnavailable) }}
{{- fail "engram: pdb.enabled with the embedded store (one replica) and minAvailable would block every node drain: set pdb.maxUnavailable: 1, or use a database and several replicas" }}
{{- end }}
{{- if le (int .Values.terminationGracePeriodSeconds) (add (int .Values.preStopSleepSeconds) (int .Values.engram.shutdownTimeoutSeconds)) }}
{{- fail (printf "engram: terminationGracePeriodSeconds (%d) must exceed preStopSleepSeconds + engram.shutdownTimeoutSeconds (%d), or Kubernetes kills engram before its graceful shutdown ends" (int .Values.terminationGracePeriodSeconds) (add (int .Values.preStopSleepSeconds) (int .Values.engram.shutdownTimeoutSeconds))) }}
{{- end }}
{{- if and (has .Values.engram.embedder.type (list "openai" "ollama")) (not .Values.engram.embedder.url) }}
{{- fail (printf "engram: engram.embedder.type=%s needs engram.embedder.url (ENGRAM_EMBED_URL)" .Values.engram.embedder.type) }}
{{- end }}
{{- if .Values.networkPolicy.enabled }}
{{- if and $db (not .Values.networkPolicy.database.cidrs) (not .Values.networkPolicy.database.peers) }}
{{- fail "engram: networkPolicy.enabled with a database needs networkPolicy.database.cidrs or networkPolicy.database.peers, otherwise engram cannot reach PostgreSQL" }}
{{- end }}
{{- if and (has .Values.engram.embedder.type (list "openai" "ollama")) (not .Values.networkPolicy.modelEndpoints) }}
{{- fail "engram: networkPolicy.enabled with an openai/ollama embedder needs networkPolicy.modelEndpoints, otherwise engram cannot reach ENGRAM_EMBED_URL" }}
{{- end }}
{{- end }}
{{- if and .Values.backup.enabled (not $db) (not .Values.persistence.enabled) }}
{{- fail "engram: backup.enabled with the embedded store needs persistence.enabled (the backup reads the data volume)" }}
{{- end }}
{{- end }}
