resource "coder_agent" "main" {
  os   = "linux"
  arch = "amd64"
}
