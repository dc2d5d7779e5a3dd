// Loading a gateway-config.xml: the ha-loopback DMZ member's shape (properties, a balancer, a
// proxy with options, security, cluster), from memory. Cold code, measured so that a reload
// (issue 8) stays cheap.
#include <benchmark/benchmark.h>

#include <string>

#include "config/loader.h"

namespace {

const std::string config_text = R"(<?xml version="1.0" encoding="UTF-8"?>
<gateway-config xmlns="http://xmlns.kaazing.org/2016/06/gateway">
  <properties>
    <property><name>gateway.ip.address</name><value>127.0.1.1</value></property>
    <property><name>pki.dir</name><value>pki</value></property>
  </properties>
  <service>
    <name>Balancer for DMZ App1</name>
    <accept>wss://gateway.example.com:8443/app1</accept>
    <type>balancer</type>
    <accept-options><tcp.bind>${gateway.ip.address}:8443</tcp.bind></accept-options>
    <cross-site-constraint><allow-origin>*</allow-origin></cross-site-constraint>
  </service>
  <service>
    <name>DMZ App1</name>
    <accept>wss://${gateway.ip.address}:8443/app1</accept>
    <connect>wss://gateway.example.com:8443/app1</connect>
    <balance>wss://gateway.example.com:8443/app1</balance>
    <type>proxy</type>
    <connect-options>
      <http.transport>socks+ssl://${gateway.ip.address}:1443</http.transport>
      <socks.mode>reverse</socks.mode>
      <socks.timeout>2 seconds</socks.timeout>
      <ssl.verify-client>required</ssl.verify-client>
    </connect-options>
  </service>
  <security>
    <keystore><type>PEM</type><file>${pki.dir}/dmz1.pem</file></keystore>
    <truststore><type>PEM</type><file>${pki.dir}/ca.pem</file></truststore>
  </security>
  <cluster>
    <name>dmzCluster</name>
    <accept>tcp://${gateway.ip.address}:5941</accept>
    <connect>udp://224.2.2.44:44444</connect>
  </cluster>
</gateway-config>
)";

void bm_config_load(benchmark::State& state) {
  postern::config::load_options options;
  options.hostname = "bench-host";
  for (auto _ : state) benchmark::DoNotOptimize(postern::config::load_config_text(config_text, "bench.xml", options));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * config_text.size()));
}

}  // namespace

BENCHMARK(bm_config_load);
