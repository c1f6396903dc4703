{{/* Names and labels shared by every template. */}}
{{- define "termlab.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "termlab.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "termlab.selectorLabels" -}}
app.kubernetes.io/name: {{ include "termlab.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "termlab.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "termlab.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
termlab.instance: {{ .Values.instance | quote }}
{{- end -}}

{{- define "termlab.serviceAccountName" -}}
{{- default (include "termlab.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The gateway's user name as the API server sees it (RBAC subjects, the admission policy). */}}
{{- define "termlab.serviceAccountUser" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "termlab.serviceAccountName" .) -}}
{{- end -}}

{{/* Cluster-scoped objects are per release namespace and name, so two releases never collide. */}}
{{- define "termlab.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "termlab.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "termlab.secretName" -}}
{{- default (include "termlab.fullname" .) .Values.database.existingSecret -}}
{{- end -}}

{{- define "termlab.image" -}}
{{- $img := .Values.gateway.image -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{/* Checks on values, run by the deployment template: plain errors instead of a broken install. */}}
{{- define "termlab.validate" -}}
{{- if not (regexMatch "^[a-z0-9][a-z0-9-]{0,30}$" .Values.instance) -}}
{{- fail (printf "instance %q: lowercase letters, digits and dashes, 1-31 characters" .Values.instance) -}}
{{- end -}}
{{- if not (regexMatch "^[a-z][a-z0-9-]{0,15}$" .Values.namespacePrefix) -}}
{{- fail (printf "namespacePrefix %q: a lowercase letter, then up to 15 lowercase letters, digits and dashes" .Values.namespacePrefix) -}}
{{- end -}}
{{- if and .Values.runtimeClass (not (regexMatch "^[a-z0-9][a-z0-9.-]{0,62}$" .Values.runtimeClass)) -}}
{{- fail (printf "runtimeClass %q: a RuntimeClass name" .Values.runtimeClass) -}}
{{- end -}}
{{- if and (gt (int .Values.gateway.replicas) 1) (not (or .Values.database.url .Values.database.existingSecret)) -}}
{{- fail "gateway.replicas above 1 needs the PostgreSQL store (database.url or database.existingSecret): with SQLite each replica has a database of its own, cannot see the others' leases, and its sweeps would end their sessions" -}}
{{- end -}}
{{- if and .Values.database.url .Values.database.existingSecret -}}
{{- fail "set database.url or database.existingSecret, not both" -}}
{{- end -}}
{{- with .Values.secrets.completionSecret -}}
{{- if lt (len .) 32 -}}
{{- fail "secrets.completionSecret must be 32 characters or more" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Whether the chart makes a Secret of its own (values given, no existingSecret). */}}
{{- define "termlab.ownSecret" -}}
{{- if and (not .Values.database.existingSecret) (or .Values.database.url .Values.secrets.completionSecret .Values.secrets.adminToken .Values.secrets.metricsToken) -}}
true
{{- end -}}
{{- end -}}

{{/* The start of every session namespace's name: <prefix><instance>- (server/sandbox/kubernetes/manifests.ts). */}}
{{- define "termlab.namespaceStart" -}}
{{- printf "%s%s-" .Values.namespacePrefix .Values.instance -}}
{{- end -}}
