{{/*
Shared names, labels and pod settings. Components: handler, producer, rabbitmq.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "switchyard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every resource name: fullnameOverride, else the release name when it already
contains the chart name, else <release>-<chart>. Leaves room for "-rabbitmq".
*/}}
{{- define "switchyard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of a component's resources: (dict "ctx" $ "component" "handler"). */}}
{{- define "switchyard.componentName" -}}
{{- printf "%s-%s" (include "switchyard.fullname" .ctx) .component }}
{{- end }}

{{/* Labels that select a component's pods; never change them on upgrade. */}}
{{- define "switchyard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "switchyard.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Every object's labels: (dict "ctx" $ "component" "handler" ["version" "4.2"]). */}}
{{- define "switchyard.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "switchyard.selectorLabels" . }}
app.kubernetes.io/version: {{ regexReplaceAll "[^A-Za-z0-9._-]" (default .ctx.Chart.AppVersion .version) "_" | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: switchyard
{{- end }}

{{/* A service image: (dict "ctx" $ "image" .Values.handler.image). */}}
{{- define "switchyard.image" -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) }}
{{- end }}

{{/* The listening ports of both services (DESIGN.md, Ports Contract). */}}
{{- define "switchyard.httpPort" -}}8080{{- end }}
{{- define "switchyard.grpcPort" -}}8081{{- end }}

{{/*
Pod-level security: the restricted Pod Security Standard, as the node user of the
service images (uid 1000). fsGroup lets that user read mounted Secret files.
*/}}
{{- define "switchyard.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Container-level security for every container the chart runs. */}}
{{- define "switchyard.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
How the broker URL reaches the services, one of:
  bundled      the in-chart broker's Secret, key "url";
  url          amqp.existingSecret, key amqp.urlKey;
  credentials  amqp.existingSecret's user name and password, composed with host, port
               and vhost into a URL by an init container (see amqpUrlInit).
Fails with the values to set when none applies.
*/}}
{{- define "switchyard.amqpMode" -}}
{{- if .Values.rabbitmq.enabled }}
{{- "bundled" }}
{{- else if not .Values.amqp.existingSecret }}
{{- fail "amqp.existingSecret is required when rabbitmq.enabled is false: name a Secret holding the broker URL (amqp.urlKey) or its credentials (amqp.usernameKey, amqp.passwordKey) with amqp.host" }}
{{- else if .Values.amqp.urlKey }}
{{- "url" }}
{{- else if not .Values.amqp.host }}
{{- fail "amqp.host is required when the broker Secret holds credentials (no amqp.urlKey)" }}
{{- else }}
{{- "credentials" }}
{{- end }}
{{- end }}

{{/* Name of the in-chart broker's Secret. */}}
{{- define "switchyard.rabbitmqSecretName" -}}
{{- include "switchyard.componentName" (dict "ctx" . "component" "rabbitmq") }}
{{- end }}

{{/* Where the init container writes the composed broker URL, as a Node --env-file. */}}
{{- define "switchyard.amqpEnvFile" -}}/run/switchyard/amqp/url.env{{- end }}

{{/*
The AMQP_URL variable (bundled and url modes); the credentials mode passes the URL in
an env file instead, so nothing is rendered.
*/}}
{{- define "switchyard.amqpUrlEnv" -}}
{{- $mode := include "switchyard.amqpMode" . }}
{{- if eq $mode "bundled" }}
- name: AMQP_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "switchyard.rabbitmqSecretName" . }}
      key: url
{{- else if eq $mode "url" }}
- name: AMQP_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.amqp.existingSecret }}
      key: {{ .Values.amqp.urlKey }}
{{- end }}
{{- end }}

{{/*
Init container for the credentials mode: reads the user name and password from the
mounted Secret, percent-encodes them (a generated password may hold '/', '+' or '='),
and writes AMQP_URL=... to an in-memory file that the service's Node loads with
--env-file. The credentials never become environment variables of their own.
Arguments: secret directory, output file, scheme, host, port, vhost, user key, password key.
*/}}
{{- define "switchyard.amqpUrlInit" -}}
{{- $ctx := .ctx }}
- name: amqp-url
  image: {{ include "switchyard.image" (dict "ctx" $ctx "image" .image) }}
  imagePullPolicy: {{ .image.pullPolicy }}
  command:
    - node
    - -e
    - |
      const fs = require("node:fs");
      const [dir, out, scheme, host, port, vhost, userKey, passwordKey] = process.argv.slice(1);
      const read = (key) => fs.readFileSync(`${dir}/${key}`, "utf8").replace(/\r?\n$/, "");
      const user = encodeURIComponent(read(userKey));
      const password = encodeURIComponent(read(passwordKey));
      const url = `${scheme}://${user}:${password}@${host}:${port}/${encodeURIComponent(vhost)}`;
      fs.writeFileSync(out, `AMQP_URL="${url}"\n`, { mode: 0o600 });
      console.log(`wrote AMQP_URL for ${scheme}://${host}:${port}/${encodeURIComponent(vhost)}`);
    - /var/run/secrets/switchyard/amqp
    - {{ include "switchyard.amqpEnvFile" . }}
    - {{ ternary "amqps" "amqp" $ctx.Values.amqp.tls }}
    - {{ $ctx.Values.amqp.host | quote }}
    - {{ $ctx.Values.amqp.port | quote }}
    - {{ $ctx.Values.amqp.vhost | quote }}
    - {{ $ctx.Values.amqp.usernameKey | quote }}
    - {{ $ctx.Values.amqp.passwordKey | quote }}
  securityContext:
    {{- include "switchyard.containerSecurityContext" . | nindent 4 }}
  resources:
    requests:
      cpu: 10m
      memory: 32Mi
    limits:
      memory: 64Mi
  volumeMounts:
    - name: amqp-credentials
      mountPath: /var/run/secrets/switchyard/amqp
      readOnly: true
    - name: amqp-url
      mountPath: /run/switchyard/amqp
{{- end }}

{{/* Volumes of the credentials mode. */}}
{{- define "switchyard.amqpUrlVolumes" -}}
- name: amqp-credentials
  secret:
    secretName: {{ .Values.amqp.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.amqp.usernameKey }}
        path: {{ .Values.amqp.usernameKey }}
      - key: {{ .Values.amqp.passwordKey }}
        path: {{ .Values.amqp.passwordKey }}
- name: amqp-url
  emptyDir:
    medium: Memory
    sizeLimit: 1Mi
{{- end }}

{{/*
The service container's command in the credentials mode: the image's own command with
the env file added, so Node stays PID 1.
*/}}
{{- define "switchyard.commandWithEnvFile" -}}
- node
- --env-file={{ include "switchyard.amqpEnvFile" . }}
- {{ .main }}
{{- end }}

{{/*
Shutdown timing of a service: (dict "shutdown" .Values.handler.shutdown). The pod's
grace period covers the preStop sleep, the service's own grace and 5 s to spare, so the
kubelet never SIGKILLs a service that is still draining inside its budget.
*/}}
{{- define "switchyard.terminationGracePeriodSeconds" -}}
{{- add .shutdown.preStopSleepSeconds .shutdown.graceSeconds 5 }}
{{- end }}

{{/* Plain settings from a service's `env` map, rendered as strings. */}}
{{- define "switchyard.extraEnv" -}}
{{- range $name, $value := . }}
- name: {{ $name }}
  value: {{ toString $value | quote }}
{{- end }}
{{- end }}

{{/* Scheduling fields shared by the pods: (dict "values" .Values.handler). */}}
{{- define "switchyard.scheduling" -}}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
