{{/* Names --------------------------------------------------------------------------------------------------- */}}

{{- define "tiktok-events-relay.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release-qualified name every resource starts with (DNS label: at most 63 characters). */}}
{{- define "tiktok-events-relay.fullname" -}}
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

{{- define "tiktok-events-relay.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tiktok-events-relay.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tiktok-events-relay.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Secret with the TikTok access tokens (envFrom): the user's, or the one this chart creates. */}}
{{- define "tiktok-events-relay.accessTokensSecretName" -}}
{{- default (include "tiktok-events-relay.fullname" .) .Values.accessTokens.existingSecret -}}
{{- end -}}

{{/* Secret with the Kafka SASL user name and password: the user's, or the one this chart creates. */}}
{{- define "tiktok-events-relay.saslSecretName" -}}
{{- default (printf "%s-kafka-sasl" (include "tiktok-events-relay.fullname" .)) .Values.kafka.security.sasl.existingSecret -}}
{{- end -}}

{{- define "tiktok-events-relay.image" -}}
{{- $repository := .Values.image.repository -}}
{{- $registry := .Values.image.registry | default (dig "imageRegistry" "" (.Values.global | default dict)) -}}
{{- if $registry -}}
{{- $repository = printf "%s/%s" $registry $repository -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* Labels ---------------------------------------------------------------------------------------------------- */}}

{{/* Selector labels of every pod of the release; the component tells the relay from the replay Job.
Usage: include "tiktok-events-relay.selectorLabels" (dict "context" $ "component" "relay") */}}
{{- define "tiktok-events-relay.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tiktok-events-relay.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{/* Usage: include "tiktok-events-relay.labels" (dict "context" $ "component" "relay") */}}
{{- define "tiktok-events-relay.labels" -}}
helm.sh/chart: {{ include "tiktok-events-relay.chart" .context }}
{{ include "tiktok-events-relay.selectorLabels" . }}
app.kubernetes.io/version: {{ .context.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
app.kubernetes.io/part-of: tiktok-events-relay
{{- with .context.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Standard metadata: name, namespace, labels, and commonAnnotations merged with the resource's own.
Usage: include "tiktok-events-relay.metadata" (dict "context" $ "component" "relay" ["name" N] ["annotations" A]) */}}
{{- define "tiktok-events-relay.metadata" -}}
name: {{ .name | default (include "tiktok-events-relay.fullname" .context) }}
namespace: {{ .context.Release.Namespace | quote }}
labels:
  {{- include "tiktok-events-relay.labels" . | nindent 2 }}
{{- with merge (deepCopy (default (dict) .annotations)) .context.Values.commonAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The service's configuration ----------------------------------------------------------------------------- */}}

{{- define "tiktok-events-relay.httpPort" -}}
{{- dig "observability" "http_port" 8080 .Values.config | int -}}
{{- end -}}

{{- define "tiktok-events-relay.drainDeadline" -}}
{{- dig "kafka" "drain_deadline_s" 20 .Values.config | float64 -}}
{{- end -}}

{{- define "tiktok-events-relay.saslEnabled" -}}
{{- if hasPrefix "SASL_" .Values.kafka.security.protocol }}true{{ end -}}
{{- end -}}

{{/* Whether SASL takes credentials from a Secret (every mechanism but AWS_MSK_IAM, which signs with the pod's role). */}}
{{- define "tiktok-events-relay.saslCredentials" -}}
{{- if and (include "tiktok-events-relay.saslEnabled" .) (ne .Values.kafka.security.sasl.mechanism "AWS_MSK_IAM") }}true{{ end -}}
{{- end -}}

{{/* The librdkafka settings the SASL user name and password of the Secret become: for OAUTHBEARER (OIDC) they are
the OAuth client id and secret. */}}
{{- define "tiktok-events-relay.saslCredentialSettings" -}}
{{- if eq .Values.kafka.security.sasl.mechanism "OAUTHBEARER" -}}
{{- list "sasl.oauthbearer.client.id" "sasl.oauthbearer.client.secret" | toJson -}}
{{- else -}}
{{- list "sasl.username" "sasl.password" | toJson -}}
{{- end -}}
{{- end -}}

{{- define "tiktok-events-relay.tlsEnabled" -}}
{{- if has .Values.kafka.security.protocol (list "SSL" "SASL_SSL") }}true{{ end -}}
{{- end -}}

{{/* Whether the Kafka TLS Secret is mounted: a TLS protocol and kafka.security.tls.existingSecret. */}}
{{- define "tiktok-events-relay.kafkaTlsMounted" -}}
{{- if and (include "tiktok-events-relay.tlsEnabled" .) .Values.kafka.security.tls.existingSecret }}true{{ end -}}
{{- end -}}

{{/* Where the Kafka TLS Secret is mounted. */}}
{{- define "tiktok-events-relay.kafkaTlsDir" -}}/etc/tiktok-relay/kafka-tls{{- end -}}

{{/* Whether the client certificate comes from its own Secret (kafka.security.tls.clientCertSecret), as Strimzi
keeps the cluster CA and each KafkaUser's certificate apart. */}}
{{- define "tiktok-events-relay.kafkaClientCertMounted" -}}
{{- $tls := .Values.kafka.security.tls -}}
{{- if and (include "tiktok-events-relay.tlsEnabled" .) $tls.clientAuth $tls.clientCertSecret }}true{{ end -}}
{{- end -}}

{{- define "tiktok-events-relay.kafkaClientCertDir" -}}/etc/tiktok-relay/kafka-client-tls{{- end -}}

{{/* The Secret holding the client certificate and key: its own, or the CA's. */}}
{{- define "tiktok-events-relay.kafkaClientCertSecretName" -}}
{{- default .Values.kafka.security.tls.existingSecret .Values.kafka.security.tls.clientCertSecret -}}
{{- end -}}

{{/* librdkafka settings derived from kafka.security (YAML map; empty for PLAINTEXT). The SASL user name and
password are not here: they come from a Secret as RELAY_KAFKA__CLIENT__sasl.* environment variables. */}}
{{- define "tiktok-events-relay.kafkaSecurityClient" -}}
{{- $security := .Values.kafka.security -}}
{{- if ne $security.protocol "PLAINTEXT" }}
security.protocol: {{ $security.protocol }}
{{- end }}
{{- if include "tiktok-events-relay.saslCredentials" . }}
sasl.mechanism: {{ $security.sasl.mechanism }}
{{- end }}
{{- if eq $security.sasl.mechanism "OAUTHBEARER" }}
{{- with $security.sasl.oauthbearer }}
sasl.oauthbearer.method: oidc
sasl.oauthbearer.token.endpoint.url: {{ .tokenEndpointUrl | quote }}
{{- with .scope }}
sasl.oauthbearer.scope: {{ . | quote }}
{{- end }}
{{- with .extensions }}
sasl.oauthbearer.extensions: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if include "tiktok-events-relay.kafkaTlsMounted" . }}
ssl.ca.location: {{ printf "%s/%s" (include "tiktok-events-relay.kafkaTlsDir" .) $security.tls.caKey }}
{{- end }}
{{- if and (include "tiktok-events-relay.tlsEnabled" .) $security.tls.clientAuth (include "tiktok-events-relay.kafkaClientCertSecretName" .) }}
{{- $dir := include (ternary "tiktok-events-relay.kafkaClientCertDir" "tiktok-events-relay.kafkaTlsDir" (not (empty (include "tiktok-events-relay.kafkaClientCertMounted" .)))) . }}
ssl.certificate.location: {{ printf "%s/%s" $dir $security.tls.certKey }}
ssl.key.location: {{ printf "%s/%s" $dir $security.tls.keyKey }}
{{- end }}
{{- end -}}

{{/* The config file: values `config` with the kafka.security settings merged into kafka.client (keys the user
set in config.kafka.client win), and the schema registry credentials' variable names when schemaRegistry.auth is
set. */}}
{{- define "tiktok-events-relay.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- $kafka := default (dict) $config.kafka -}}
{{- $client := merge (default (dict) $kafka.client) (include "tiktok-events-relay.kafkaSecurityClient" . | fromYaml) -}}
{{- if $client -}}
{{- $_ := set $kafka "client" $client -}}
{{- end -}}
{{- if and (include "tiktok-events-relay.saslEnabled" .) (eq .Values.kafka.security.sasl.mechanism "AWS_MSK_IAM") -}}
{{- $msk := dict "region" .Values.kafka.security.sasl.awsMskIam.region -}}
{{- with .Values.kafka.security.sasl.awsMskIam.roleArn }}{{ $_ := set $msk "role_arn" . }}{{ end -}}
{{- $_ := set $kafka "aws_msk_iam" $msk -}}
{{- end -}}
{{- $_ := set $config "kafka" $kafka -}}
{{- if and .Values.schemaRegistry.auth.existingSecret (dig "schemas" "registry" "url" "" $config) -}}
{{- $registry := $config.schemas.registry -}}
{{- $_ := set $registry "username_env" "SCHEMA_REGISTRY_USERNAME" -}}
{{- $_ := set $registry "password_env" "SCHEMA_REGISTRY_PASSWORD" -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/* Checks across values that values.schema.json cannot express; fail at install time with the fix. */}}
{{- define "tiktok-events-relay.validate" -}}
{{- if not .Values.config.routes -}}
{{- fail "config.routes is empty: list the routes that turn your topics' records into TikTok events (docs/mapping.md). Nothing is installed without them, so that a trial install never joins a consumer group, creates topics or sends events. Example routes for the reference schemas: helm/tiktok-events-relay/examples/reference-values.yaml" -}}
{{- end -}}
{{- $drain := include "tiktok-events-relay.drainDeadline" . | float64 -}}
{{- if le (float64 .Values.terminationGracePeriodSeconds) $drain -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed config.kafka.drain_deadline_s (%v): the pod needs the drain deadline plus time to commit and close" (int .Values.terminationGracePeriodSeconds) $drain) -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled .Values.keda.enabled -}}
{{- fail "autoscaling.enabled and keda.enabled are mutually exclusive: KEDA manages its own HorizontalPodAutoscaler" -}}
{{- end -}}
{{- if and .Values.keda.allowIdleConsumers .Values.keda.limitToPartitionsWithLag -}}
{{- fail "keda.allowIdleConsumers and keda.limitToPartitionsWithLag cannot both be true" -}}
{{- end -}}
{{- $sasl := .Values.kafka.security.sasl -}}
{{- if and (include "tiktok-events-relay.saslCredentials" .) (not $sasl.existingSecret) (not (and $sasl.username $sasl.password)) -}}
{{- fail (printf "kafka.security.protocol %s needs kafka.security.sasl.existingSecret, or kafka.security.sasl.username and password" .Values.kafka.security.protocol) -}}
{{- end -}}
{{- if and (include "tiktok-events-relay.saslEnabled" .) (eq $sasl.mechanism "OAUTHBEARER") (not $sasl.oauthbearer.tokenEndpointUrl) -}}
{{- fail "kafka.security.sasl.mechanism OAUTHBEARER needs kafka.security.sasl.oauthbearer.tokenEndpointUrl (the identity provider's token endpoint)" -}}
{{- end -}}
{{- if and (include "tiktok-events-relay.saslEnabled" .) (eq $sasl.mechanism "AWS_MSK_IAM") (or (not $sasl.awsMskIam.region) (ne .Values.kafka.security.protocol "SASL_SSL")) -}}
{{- fail "kafka.security.sasl.mechanism AWS_MSK_IAM needs kafka.security.protocol SASL_SSL and kafka.security.sasl.awsMskIam.region" -}}
{{- end -}}
{{- if and .Values.schemaRegistry.auth.existingSecret (not (dig "schemas" "registry" "url" "" .Values.config)) -}}
{{- fail "schemaRegistry.auth.existingSecret needs config.schemas.registry.url" -}}
{{- end -}}
{{- if and .Values.replay.enabled (not .Values.replay.topic) -}}
{{- fail "replay.enabled needs replay.topic: the dead-letter topic to replay" -}}
{{- end -}}
{{- end -}}

{{/* Pod parts shared by the relay Deployment and the replay Job ----------------------------------------------- */}}

{{/* Pod-level spec fields (identity, security, pull secrets). */}}
{{- define "tiktok-events-relay.podIdentity" -}}
serviceAccountName: {{ include "tiktok-events-relay.serviceAccountName" . }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
# No <SERVICE>_PORT variables: the service reads RELAY_-prefixed variables as config overrides.
enableServiceLinks: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with concat (dig "imagePullSecrets" list (.Values.global | default dict)) .Values.imagePullSecrets | uniq }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Container fields that give the service its config, secrets and writable /tmp. */}}
{{- define "tiktok-events-relay.containerRuntime" -}}
image: {{ include "tiktok-events-relay.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- toYaml .Values.containerSecurityContext | nindent 2 }}
env:
  - name: RELAY_CONFIG
    value: /etc/tiktok-relay/relay.yaml
  {{- if include "tiktok-events-relay.saslCredentials" . }}
  {{- $settings := include "tiktok-events-relay.saslCredentialSettings" . | fromJsonArray }}
  # The config object reads RELAY_<SECTION>__<KEY> overrides; these land in kafka.client as sasl.username and
  # sasl.password (for OAUTHBEARER: the OAuth client id and secret), so they never appear in the ConfigMap.
  - name: RELAY_KAFKA__CLIENT__{{ index $settings 0 }}
    valueFrom:
      secretKeyRef:
        name: {{ include "tiktok-events-relay.saslSecretName" . }}
        key: {{ .Values.kafka.security.sasl.usernameKey }}
  - name: RELAY_KAFKA__CLIENT__{{ index $settings 1 }}
    valueFrom:
      secretKeyRef:
        name: {{ include "tiktok-events-relay.saslSecretName" . }}
        key: {{ .Values.kafka.security.sasl.passwordKey }}
  {{- end }}
  {{- with .Values.schemaRegistry.auth }}
  {{- if .existingSecret }}
  # Named by config.schemas.registry.username_env / password_env.
  - name: SCHEMA_REGISTRY_USERNAME
    valueFrom:
      secretKeyRef:
        name: {{ .existingSecret }}
        key: {{ .usernameKey }}
  - name: SCHEMA_REGISTRY_PASSWORD
    valueFrom:
      secretKeyRef:
        name: {{ .existingSecret }}
        key: {{ .passwordKey }}
  {{- end }}
  {{- end }}
  {{- with .Values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
envFrom:
  - secretRef:
      name: {{ include "tiktok-events-relay.accessTokensSecretName" . }}
  {{- with .Values.extraEnvFrom }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
volumeMounts:
  - name: config
    mountPath: /etc/tiktok-relay/relay.yaml
    subPath: relay.yaml
    readOnly: true
  - name: tmp
    mountPath: /tmp
  {{- if include "tiktok-events-relay.kafkaTlsMounted" . }}
  - name: kafka-tls
    mountPath: {{ include "tiktok-events-relay.kafkaTlsDir" . }}
    readOnly: true
  {{- end }}
  {{- if include "tiktok-events-relay.kafkaClientCertMounted" . }}
  - name: kafka-client-tls
    mountPath: {{ include "tiktok-events-relay.kafkaClientCertDir" . }}
    readOnly: true
  {{- end }}
  {{- with .Values.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{- define "tiktok-events-relay.volumes" -}}
- name: config
  configMap:
    name: {{ include "tiktok-events-relay.fullname" . }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- $tls := .Values.kafka.security.tls }}
{{- if include "tiktok-events-relay.kafkaTlsMounted" . }}
- name: kafka-tls
  secret:
    secretName: {{ $tls.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ $tls.caKey }}
        path: {{ $tls.caKey }}
      {{- if and $tls.clientAuth (not $tls.clientCertSecret) }}
      - key: {{ $tls.certKey }}
        path: {{ $tls.certKey }}
      - key: {{ $tls.keyKey }}
        path: {{ $tls.keyKey }}
      {{- end }}
{{- end }}
{{- if include "tiktok-events-relay.kafkaClientCertMounted" . }}
- name: kafka-client-tls
  secret:
    secretName: {{ $tls.clientCertSecret }}
    defaultMode: 0440
    items:
      - key: {{ $tls.certKey }}
        path: {{ $tls.certKey }}
      - key: {{ $tls.keyKey }}
        path: {{ $tls.keyKey }}
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* `--skip PART` arguments of the helm test's `tiktok-relay check`, as a JSON list. */}}
{{- define "tiktok-events-relay.checkSkipArgs" -}}
{{- $args := list -}}
{{- range .Values.tests.check.skip }}{{ $args = concat $args (list "--skip" .) }}{{ end -}}
{{- toJson $args -}}
{{- end -}}

{{/* The replay Job ------------------------------------------------------------------------------------------- */}}

{{/* Arguments of `tiktok-relay dlq replay`, as a JSON list, built from values `replay`. */}}
{{- define "tiktok-events-relay.replayArgs" -}}
{{- $replay := .Values.replay -}}
{{- $args := list "dlq" "replay" "--topic" $replay.topic "--to" $replay.to "--rate" (toString $replay.rate) -}}
{{- with $replay.filters -}}
{{- if .reason }}{{ $args = concat $args (list "--reason" .reason) }}{{ end -}}
{{- if .route }}{{ $args = concat $args (list "--route" .route) }}{{ end -}}
{{- if not (kindIs "invalid" .code) }}{{ $args = concat $args (list "--code" (toString (int .code))) }}{{ end -}}
{{- if .since }}{{ $args = concat $args (list "--since" .since) }}{{ end -}}
{{- if .until }}{{ $args = concat $args (list "--until" .until) }}{{ end -}}
{{- end -}}
{{- if $replay.dryRun }}{{ $args = append $args "--dry-run" }}{{ end -}}
{{- if $replay.again }}{{ $args = append $args "--again" }}{{ end -}}
{{- $args = concat $args (list "--operator" ($replay.operator | default (printf "helm/%s" .Release.Name))) -}}
{{- toJson (concat $args $replay.extraArgs) -}}
{{- end -}}

{{/* Job name: a new one whenever the arguments or runId change (Jobs are immutable). */}}
{{- define "tiktok-events-relay.replayJobName" -}}
{{- $hash := printf "%s|%s" (include "tiktok-events-relay.replayArgs" .) (toString .Values.replay.runId) | sha256sum | trunc 8 -}}
{{- printf "%s-dlq-replay-%s" (include "tiktok-events-relay.fullname" . | trunc 43 | trimSuffix "-") $hash -}}
{{- end -}}
