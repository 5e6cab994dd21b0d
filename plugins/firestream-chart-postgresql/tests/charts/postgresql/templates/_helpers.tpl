{{- /* Names and labels as bitnami/postgresql makes them through bitnami/common:
common.labels.standard on objects and pods, common.labels.matchLabels (name +
instance only) in selectors, app.kubernetes.io/component per part. */ -}}
{{- define "postgresql.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "postgresql.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "postgresql.primary.fullname" -}}
{{- if eq .Values.architecture "replication" -}}
{{- printf "%s-%s" (include "postgresql.fullname" .) .Values.primary.name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- include "postgresql.fullname" . -}}
{{- end -}}
{{- end -}}

{{- define "postgresql.labels" -}}
app.kubernetes.io/name: {{ include "postgresql.name" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ include "postgresql.appVersion" . | quote }}
{{- end -}}

{{- define "postgresql.matchLabels" -}}
app.kubernetes.io/name: {{ include "postgresql.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- /* The PostgreSQL major a chart version ships: 13.x-15.x PostgreSQL 16, 16.0.0 and later 17
(the real charts' appVersion; one stand-in is packaged at both versions). */ -}}
{{- define "postgresql.appVersion" -}}
{{- if semverCompare ">=16.0.0" .Chart.Version -}}17.2.0{{- else -}}16.1.0{{- end -}}
{{- end -}}

{{- define "postgresql.secretName" -}}
{{- default (include "postgresql.fullname" .) .Values.auth.existingSecret -}}
{{- end -}}

{{- /* bitnami/common's common.secrets.passwords.manage, reduced to one provided value. */ -}}
{{- define "postgresql.passwords.manage" -}}
{{- $password := "" -}}
{{- $secretData := (lookup "v1" "Secret" .context.Release.Namespace .secret).data -}}
{{- if $secretData -}}
  {{- if hasKey $secretData .key -}}
    {{- $password = index $secretData .key | quote -}}
  {{- else -}}
    {{- printf "\nPASSWORDS ERROR: The secret \"%s\" does not contain the key \"%s\"\n" .secret .key | fail -}}
  {{- end -}}
{{- else if .provided -}}
  {{- $password = .provided | toString | b64enc | quote -}}
{{- else -}}
  {{- if .context.Release.IsUpgrade -}}
    {{- printf "\nPASSWORDS ERROR: You must provide your current passwords when upgrading the release.\n    'auth.postgresPassword' must not be empty, please add '--set auth.postgresPassword=$POSTGRES_PASSWORD' to the command. To get the current value:\n\n        export POSTGRES_PASSWORD=$(kubectl get secret --namespace \"%s\" %s -o jsonpath=\"{.data.%s}\" | base64 -d)\n" .context.Release.Namespace .secret .key | fail -}}
  {{- end -}}
  {{- $password = randAlphaNum 10 | b64enc | quote -}}
{{- end -}}
{{- printf "%s" $password -}}
{{- end -}}
