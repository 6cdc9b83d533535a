variable "namespace" {
  type = string
}

resource "null_resource" "workspace" {
  triggers = {
    namespace = var.namespace
  }
}
