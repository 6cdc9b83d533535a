terraform {
  required_providers {
    coder = {
      source = "coder/coder"
    }
  }
}

variable "greeting" {
  type    = string
  default = "hello"
}

variable "api_key" {
  type      = string
  sensitive = true
  default   = ""
}

resource "coder_agent" "main" {
  os   = "linux"
  arch = "amd64"
  env = {
    GREETING = var.greeting
  }
}
