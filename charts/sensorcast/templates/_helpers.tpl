{{/* Names of the umbrella chart: where its subcharts' objects are, for NOTES.txt. */}}
{{- define "sensorcast.grafana" -}}{{ index .Values "grafana" "fullnameOverride" | default (printf "%s-grafana" .Release.Name) }}{{- end -}}
{{- define "sensorcast.opentsdb" -}}{{ index .Values "opentsdb" "fullnameOverride" | default (printf "%s-opentsdb" .Release.Name) }}{{- end -}}
{{- define "sensorcast.operator" -}}{{ index .Values "sensorcast-operator" "fullnameOverride" | default (printf "%s-sensorcast-operator" .Release.Name) }}{{- end -}}

{{/* Warnings about values that do not fit the release namespace (printed by NOTES.txt). */}}
{{- define "sensorcast.warnings" -}}
{{- $spark := index .Values "spark-operator" -}}
{{- if and $spark.enabled (not (has .Release.Namespace (($spark.spark | default dict).jobNamespaces | default list))) }}
WARNING: spark-operator.spark.jobNamespaces does not list {{ .Release.Namespace }}: SparkApplications of the
pipelines will not run. Upgrade with --set 'spark-operator.spark.jobNamespaces={{ "{" }}{{ .Release.Namespace }}{{ "}" }}'.
{{- end }}
{{- end -}}
