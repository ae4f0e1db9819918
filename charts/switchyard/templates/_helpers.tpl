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

{{/*
The listening ports of both services (DESIGN.md, Ports Contract), and the ops port the
chart always gives them (OPS_PORT): /healthz, /readyz, /metrics and the handler's
ObservationService, apart from the data ports so a NetworkPolicy can tell them apart.
*/}}
{{- define "switchyard.httpPort" -}}8080{{- end }}
{{- define "switchyard.grpcPort" -}}8081{{- end }}
{{- define "switchyard.opsPort" -}}8082{{- end }}

{{/* Where a service's TLS Secret is mounted, as a whole directory (never subPath). */}}
{{- define "switchyard.tlsDir" -}}/etc/switchyard/tls{{- end }}

{{/* http or https: how the services, probes, scrapers and the helm test speak to each other. */}}
{{- define "switchyard.scheme" -}}
{{- ternary "https" "http" .Values.tls.enabled }}
{{- end }}

{{/* A component's TLS Secret: (dict "ctx" $ "component" "producer"); fails without tls.secretName. */}}
{{- define "switchyard.tlsSecretName" -}}
{{- if not .ctx.Values.tls.secretName }}
{{- fail "tls.secretName is required when tls.enabled is true: name a kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt (a cert-manager Certificate's secretName)" }}
{{- end }}
{{- if and (eq .component "producer") .ctx.Values.tls.producerSecretName }}
{{- .ctx.Values.tls.producerSecretName }}
{{- else }}
{{- .ctx.Values.tls.secretName }}
{{- end }}
{{- end }}

{{/* The tls volume of a pod: (dict "ctx" $ "component" "handler"). */}}
{{- define "switchyard.tlsVolume" -}}
- name: tls
  secret:
    secretName: {{ include "switchyard.tlsSecretName" . }}
    defaultMode: 0440
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
      - key: ca.crt
        path: ca.crt
{{- end }}

{{/* Its mount: the whole directory, so the kubelet's ..data swap reaches the process. */}}
{{- define "switchyard.tlsVolumeMount" -}}
- name: tls
  mountPath: {{ include "switchyard.tlsDir" . }}
  readOnly: true
{{- end }}

{{/*
The ops port in a container's ports list and its probes: (dict "ctx" $ "values"
.Values.handler). Liveness and readiness GET the ops port; startup asks grpc.health.v1
on the h2c port in cleartext and GETs /readyz on the ops port with TLS, since the
kubelet's gRPC probe speaks cleartext only. The kubelet does not verify the
certificate and presents none, which the ops listener never asks for.
*/}}
{{- define "switchyard.probes" -}}
{{- $scheme := include "switchyard.scheme" .ctx | upper }}
startupProbe:
  {{- if .ctx.Values.tls.enabled }}
  httpGet:
    path: /readyz
    port: ops
    scheme: {{ $scheme }}
  {{- else }}
  grpc:
    port: {{ include "switchyard.grpcPort" . }}
  {{- end }}
  {{- toYaml .values.startupProbe | nindent 2 }}
livenessProbe:
  httpGet:
    path: /healthz
    port: ops
    scheme: {{ $scheme }}
  {{- toYaml .values.livenessProbe | nindent 2 }}
readinessProbe:
  httpGet:
    path: /readyz
    port: ops
    scheme: {{ $scheme }}
  {{- toYaml .values.readinessProbe | nindent 2 }}
{{- end }}

{{/* The listener variables both services get from the chart: (dict "ctx" $). */}}
{{- define "switchyard.listenerEnv" -}}
- name: HTTP_PORT
  value: {{ include "switchyard.httpPort" . | quote }}
- name: H2C_PORT
  value: {{ include "switchyard.grpcPort" . | quote }}
- name: OPS_PORT
  value: {{ include "switchyard.opsPort" . | quote }}
- name: BIND_HOST
  value: "0.0.0.0"
{{- if .ctx.Values.tls.enabled }}
- name: TLS_DIR
  value: {{ include "switchyard.tlsDir" . | quote }}
{{- end }}
{{- end }}

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
The AMQP_URL variable (bundled and url modes): (dict "ctx" $ "user" "handler"). The
in-chart broker gives each of handler, producer and topology a user of its own; the
credentials mode passes the URL in an env file instead, so nothing is rendered.
*/}}
{{- define "switchyard.amqpUrlEnv" -}}
{{- $ctx := .ctx }}
{{- $mode := include "switchyard.amqpMode" $ctx }}
{{- if eq $mode "bundled" }}
- name: AMQP_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "switchyard.rabbitmqSecretName" $ctx }}
      key: {{ printf "%s-url" .user }}
{{- else if eq $mode "url" }}
- name: AMQP_URL
  valueFrom:
    secretKeyRef:
      name: {{ $ctx.Values.amqp.existingSecret }}
      key: {{ $ctx.Values.amqp.urlKey }}
{{- end }}
{{- end }}

{{/*
AMQP_TOPOLOGY of the services: with the in-chart broker a declare-only init container
declares the topology with its own user and the services only check it (their users
may not declare); with an external broker they declare it themselves with the one URL
they are given (see docs/security.md for a least-privilege external broker).
*/}}
{{- define "switchyard.amqpTopology" -}}
{{- ternary "check" "declare" (eq (include "switchyard.amqpMode" .) "bundled") }}
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
