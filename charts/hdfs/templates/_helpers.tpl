{{/* Names, labels, config and security contexts of the hdfs chart. */}}
{{- define "hdfs.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hdfs.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "hdfs.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hdfs.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hdfs.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "hdfs.labels" -}}
helm.sh/chart: {{ include "hdfs.chart" . }}
{{ include "hdfs.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sensorcast
{{- end -}}

{{- define "hdfs.namenode" -}}{{ include "hdfs.fullname" . }}-namenode{{- end -}}
{{- define "hdfs.datanode" -}}{{ include "hdfs.fullname" . }}-datanode{{- end -}}
{{- define "hdfs.configMap" -}}{{ include "hdfs.fullname" . }}-config{{- end -}}
{{- define "hdfs.uri" -}}hdfs://{{ include "hdfs.namenode" . }}.{{ .Release.Namespace }}.svc:{{ .Values.namenode.rpcPort }}{{- end -}}
{{- define "hdfs.image" -}}{{ printf "%s:%s" .Values.image.repository .Values.image.tag }}{{- end -}}

{{- define "hdfs.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsGroup }}
fsGroup: {{ .Values.runAsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "hdfs.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsGroup }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Environment of every Hadoop container: config from the ConfigMap, logs and temp files in /tmp. */}}
{{- define "hdfs.env" -}}
- name: HADOOP_CONF_DIR
  value: /etc/hadoop-conf
- name: HADOOP_LOG_DIR
  value: /tmp/hadoop-logs
- name: HADOOP_USER_NAME
  value: {{ .Values.superuser | quote }}
{{- end -}}

{{- define "hdfs.property" -}}
<property><name>{{ index . 0 }}</name><value>{{ index . 1 }}</value></property>
{{- end -}}

{{/* Pod-level fields shared by the namenode, datanodes, hook Job and test pod: no API token, restricted PSS,
the config ConfigMap and a writable /tmp (the root filesystem is read-only), scheduling from values. */}}
{{- define "hdfs.podSpecCommon" -}}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- include "hdfs.podSecurityContext" . | nindent 2 }}
volumes:
  - name: config
    configMap:
      name: {{ include "hdfs.configMap" . }}
  - name: tmp
    emptyDir:
      sizeLimit: 512Mi
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Mounts of every Hadoop container; "data" is the StatefulSets' claim and is mounted only where it exists. */}}
{{- define "hdfs.configMounts" -}}
- name: config
  mountPath: /etc/hadoop-conf
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "hdfs.volumeMounts" -}}
{{ include "hdfs.configMounts" . }}
- name: data
  mountPath: /data
{{- end -}}

{{/* The "data" volumeClaimTemplate from a storage block of values ({size, storageClass}). */}}
{{- define "hdfs.claim" -}}
- metadata:
    name: data
  spec:
    accessModes: [ReadWriteOnce]
    {{- with .storageClass }}
    storageClassName: {{ . }}
    {{- end }}
    resources:
      requests:
        storage: {{ .size }}
{{- end -}}
