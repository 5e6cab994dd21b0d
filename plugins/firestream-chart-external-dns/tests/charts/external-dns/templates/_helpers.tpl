{{- define "external-dns.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "external-dns.fullname" -}}
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

{{- /* bitnami/common's common.labels.standard and common.labels.matchLabels: selectors carry
name and instance only, so they are the same at every chart version. */ -}}
{{- define "external-dns.labels" -}}
app.kubernetes.io/name: {{ include "external-dns.name" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ include "external-dns.appVersion" . | quote }}
{{- end -}}

{{- define "external-dns.matchLabels" -}}
app.kubernetes.io/name: {{ include "external-dns.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "external-dns.appVersion" -}}
{{- if semverCompare ">=9.0.0" .Chart.Version -}}0.18.0{{- else -}}0.14.0{{- end -}}
{{- end -}}

{{- /* Chart 8.0.0 dropped the DaemonSet and multiple replicas (bitnami/charts#26759). */ -}}
{{- define "external-dns.singleReplica" -}}
{{- if semverCompare ">=8.0.0" .Chart.Version -}}true{{- end -}}
{{- end -}}
