namespace cnn2snn {
const char* version() { return "0.1.0"; }
}  // namespace cnn2snn
