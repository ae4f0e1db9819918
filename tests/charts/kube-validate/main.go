// Command kube-validate decodes Kubernetes manifests the way the API server's own Go
// types do, strictly: an unknown or misplaced field, a wrong type or a duplicate field
// is an error. The chart tests pipe `helm template` output through it, so a typo in a
// template fails here instead of on a cluster. It also checks kind cluster configs.
//
//	kube-validate manifests < rendered.yaml   # one error line per bad object, exit 1
//	kube-validate kind-config kind-config.yaml
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	kindv1alpha4 "sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: kube-validate manifests < file | kube-validate kind-config <file>")
	}
	switch os.Args[1] {
	case "manifests":
		count, problems := validateManifests(os.Stdin)
		for _, problem := range problems {
			fmt.Println(problem)
		}
		if len(problems) > 0 {
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "%d objects valid\n", count)
	case "kind-config":
		if len(os.Args) != 3 {
			fail("usage: kube-validate kind-config <file>")
		}
		if err := validateKindConfig(os.Args[2]); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
	default:
		fail("unknown mode " + os.Args[1])
	}
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, message)
	os.Exit(2)
}

// validateManifests decodes every document of a multi-document YAML stream with the
// built-in API types plus the Prometheus Operator's (ServiceMonitor, PrometheusRule).
func validateManifests(input io.Reader) (int, []string) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fail(err.Error())
	}
	if err := monitoringv1.AddToScheme(scheme); err != nil {
		fail(err.Error())
	}
	decoder := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()

	reader := utilyaml.NewYAMLReader(bufio.NewReader(input))
	count := 0
	var problems []string
	for index := 0; ; index++ {
		document, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("document %d: %v", index, err))
			break
		}
		if len(bytes.TrimSpace(stripComments(document))) == 0 {
			continue
		}
		count++
		object, kind, err := decoder.Decode(document, nil, nil)
		name := describe(document)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		if kind == nil || object == nil {
			problems = append(problems, fmt.Sprintf("%s: not decoded", name))
		}
	}
	return count, problems
}

// describe names a document as Kind/name for error messages, best effort.
func describe(document []byte) string {
	var head struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(document, &head); err != nil || head.Kind == "" {
		return "document"
	}
	return head.Kind + "/" + head.Metadata.Name
}

// stripComments drops comment-only lines, so a document of comments counts as empty.
func stripComments(document []byte) []byte {
	var kept [][]byte
	for _, line := range bytes.Split(document, []byte("\n")) {
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 && trimmed[0] == '#' {
			continue
		}
		kept = append(kept, line)
	}
	return bytes.Join(kept, []byte("\n"))
}

// validateKindConfig decodes a kind cluster config strictly, as kind itself does.
func validateKindConfig(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cluster kindv1alpha4.Cluster
	if err := yaml.UnmarshalStrict(data, &cluster); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if cluster.Kind != "Cluster" || cluster.APIVersion != "kind.x-k8s.io/v1alpha4" {
		return fmt.Errorf("%s: want kind Cluster, apiVersion kind.x-k8s.io/v1alpha4; got %q, %q", path, cluster.Kind, cluster.APIVersion)
	}
	return nil
}
