#!/bin/sh
# One-shot provisioning of the broker of integration/compose/docker-compose.sasl.yml, run as User:admin on the ADMIN
# listener: the example topics, the SCRAM credential of every principal the SCRAM plugin configuration names, and
# the broker ACLs of those principals.
#
# EXAMPLE ONLY. The SCRAM passwords below are the ones the filter uses with the EXAMPLE secrets of the compose file
# (KMF_SASL_SECRET, KMF_SASL_PASSWORD), i.e. what
#   KMF_SASL_SECRET=... KMF_SASL_PASSWORD=... kafka-mtls-filter credentials plugin-config-scram.json
# prints. With your own secrets, paste the lines that command prints instead. The OAUTHBEARER listener needs no
# per-user credential: the broker trusts the filter's JWKS (jwks.json).
# integration/tests/test_istio_manifests.py checks these lines against the CLI's output, so they cannot drift.
set -eu

kafka=/opt/kafka/bin
admin="--bootstrap-server kafka:9095 --command-config /etc/kafka-sasl/admin.properties"

for topic in demo payments; do
  $kafka/kafka-topics.sh $admin --create --if-not-exists --topic "$topic" --partitions 1 --replication-factor 1
done

# SCRAM users (user name = principal name, `{principalName}`; the broker's principal is User:<user name>).
# User:CN=kafka-default: password derived as base64url(HMAC-SHA256(KMF_SASL_SECRET, "User:CN=kafka-default")).
$kafka/kafka-configs.sh $admin --alter --entity-type users --entity-name 'CN=kafka-default' --add-config 'SCRAM-SHA-512=[iterations=8192,password=FvcuoSECZHGZFSXTD3ADavbxB6oJD8bvjJP-GlARaDw]'
# User:CN=payments-checkout: the explicit password, the value of KMF_SASL_PASSWORD.
$kafka/kafka-configs.sh $admin --alter --entity-type users --entity-name 'CN=payments-checkout' --add-config 'SCRAM-SHA-512=[iterations=8192,password=EXAMPLE-ONLY-checkout-password]'

# Broker ACLs: the same grants as the plugin configurations' `authorization.users` (the filter runs in audit mode
# here, so these are the ones that decide).
$kafka/kafka-acls.sh $admin --add --allow-principal 'User:CN=kafka-default' \
  --operation Write --operation Read --operation Describe --topic demo
$kafka/kafka-acls.sh $admin --add --allow-principal 'User:CN=payments-checkout' \
  --operation Write --operation Describe --topic payments

$kafka/kafka-acls.sh $admin --list
echo "provisioned"
