#!/usr/bin/env bash
# Step 8: cluster DNS. CoreDNS as a Deployment behind the Service the kubelet names as
# clusterDNS: authoritative for cluster.local, NXDOMAIN for every other name (nothing
# outside the namespace is reachable anyway). It listens on 1053 so it needs no
# capability; the Service maps 53 to it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

say "applying CoreDNS ($COREDNS_IMAGE) in kube-system"
kubectl_admin apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ServiceAccount
metadata: { name: coredns, namespace: kube-system }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: "system:coredns" }
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: "system:coredns" }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns" }
subjects: [{ kind: ServiceAccount, name: coredns, namespace: kube-system }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: coredns, namespace: kube-system }
data:
  Corefile: |
    cluster.local in-addr.arpa ip6.arpa {
      errors
      health :8080
      ready :8181
      kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
      }
      cache 30
    }
    . {
      errors
      template ANY ANY {
        rcode NXDOMAIN
      }
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: coredns, namespace: kube-system, labels: { k8s-app: kube-dns } }
spec:
  replicas: 1
  selector: { matchLabels: { k8s-app: kube-dns } }
  template:
    metadata: { labels: { k8s-app: kube-dns } }
    spec:
      serviceAccountName: coredns
      priorityClassName: system-cluster-critical
      dnsPolicy: Default
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        seccompProfile: { type: RuntimeDefault }
      containers:
        - name: coredns
          image: $COREDNS_IMAGE
          imagePullPolicy: Never
          # Every server block on 1053 unless it names a port.
          args: [-conf, /etc/coredns/Corefile, -dns.port, "1053"]
          ports:
            - { name: dns, containerPort: 1053, protocol: UDP }
            - { name: dns-tcp, containerPort: 1053, protocol: TCP }
          readinessProbe: { httpGet: { path: /ready, port: 8181 }, periodSeconds: 2 }
          livenessProbe: { httpGet: { path: /health, port: 8080 }, periodSeconds: 10 }
          resources: { requests: { cpu: 50m, memory: 32Mi }, limits: { memory: 128Mi } }
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: { drop: [ALL] }
          volumeMounts: [{ name: config, mountPath: /etc/coredns, readOnly: true }]
      volumes: [{ name: config, configMap: { name: coredns } }]
---
apiVersion: v1
kind: Service
metadata: { name: kube-dns, namespace: kube-system, labels: { k8s-app: kube-dns } }
spec:
  clusterIP: $DNS_SERVICE_IP
  selector: { k8s-app: kube-dns }
  ports:
    - { name: dns, port: 53, targetPort: 1053, protocol: UDP }
    - { name: dns-tcp, port: 53, targetPort: 1053, protocol: TCP }
YAML
wait_until 120 "CoreDNS rollout" kubectl_admin -n kube-system rollout status deployment/coredns --timeout=5s
# A pod that answers its readiness probe, not just a rollout the controller called done.
wait_until 120 "a Ready CoreDNS pod" kubectl_admin -n kube-system wait pod -l k8s-app=kube-dns --for=condition=Ready --timeout=5s
say "CoreDNS ready on $DNS_SERVICE_IP"
