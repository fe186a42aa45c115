// Kafka's Java client (kafka-clients, the broker's version) driven by integration/tests/test_java_clients.py
// through Envoy and the filter. Compiled at test time with javac against Kafka's jars; no build tool.
//
//   java -cp <classes>:<kafka libs>/* JavaClients <scenario> <client.properties> <args...>
//
// Each scenario prints one line `RESULT {json}` on stdout: what the client achieved, and the first Kafka
// exception (class and message) it met, so a test asserts the real outcome rather than a log line.
//   produce      <props> <topic> <count>                   idempotent producer (Kafka's default), acks=all, keyed k<i>
//   consume      <props> <topic> <group> <count> <seconds> subscribe in a group, commit, report offsets
//   transaction  <props> <topic> <txid> <count>            init, begin, send, commit (or the error)
//   read-committed <props> <topic> <count> <seconds>       assign all partitions, isolation.level=read_committed
//   consumer-protocol <props> <topic|regex> <group> <count> <seconds> [regex]
//                                                          group.protocol=consumer (KIP-848): subscribe to the topic
//                                                          (or the RE2J pattern), poll until count records (0: until
//                                                          assigned) or the end
//   share-consume <props> <topic> <group> <seconds> [describer-props]
//                                                          a share consumer (KIP-932) polls; then Admin (with the other
//                                                          properties if given) describes the group while it is a member
//   share-offsets <props> <group> <topic> alter|delete|list|list-topic
//                                                          Admin alters, deletes or lists a share group's offsets
//   describe-share-group <props> <group>                   Admin.describeShareGroups (ShareGroupDescribe)

import java.io.FileInputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListShareGroupOffsetsSpec;
import org.apache.kafka.clients.admin.ShareGroupDescription;
import org.apache.kafka.clients.admin.SharePartitionOffsetInfo;
import org.apache.kafka.clients.admin.ShareMemberDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.clients.consumer.SubscriptionPattern;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class JavaClients {
    public static void main(String[] args) throws Exception {
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("scenario", args[0]);
        Properties props = new Properties();
        try (FileInputStream in = new FileInputStream(args[1])) {
            props.load(in);
        }
        try {
            switch (args[0]) {
                case "produce" -> produce(props, args[2], Integer.parseInt(args[3]), result);
                case "consume" -> consume(props, args[2], args[3], Integer.parseInt(args[4]), Integer.parseInt(args[5]), result);
                case "transaction" -> transaction(props, args[2], args[3], Integer.parseInt(args[4]), result);
                case "read-committed" -> readCommitted(props, args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]), result);
                case "consumer-protocol" -> consumerProtocol(props, args[2], args[3], Integer.parseInt(args[4]),
                    Integer.parseInt(args[5]), args.length > 6 && args[6].equals("regex"), result);
                case "share-consume" -> shareConsume(props, args[2], args[3], Integer.parseInt(args[4]),
                    args.length > 5 ? args[5] : null, result);
                case "describe-share-group" -> describeShareGroup(props, args[2], result);
                case "share-offsets" -> shareOffsets(props, args[2], args[3], args[4], result);
                default -> throw new IllegalArgumentException("unknown scenario " + args[0]);
            }
        } catch (Exception e) {
            recordError(result, e);
        }
        System.out.println("RESULT " + json(result));
        System.out.flush();
        // Client threads are closed above; exit at once even if one lingers.
        System.exit(0);
    }

    static void recordError(Map<String, Object> result, Throwable e) {
        Throwable cause = e;
        while ((cause instanceof ExecutionException || cause.getClass() == RuntimeException.class) && cause.getCause() != null) {
            cause = cause.getCause();
        }
        result.putIfAbsent("error", cause.getClass().getName());
        result.putIfAbsent("message", String.valueOf(cause.getMessage()));
    }

    static void produce(Properties props, String topic, int count, Map<String, Object> result) throws Exception {
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        int acked = 0;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props, new StringSerializer(), new StringSerializer())) {
            List<java.util.concurrent.Future<RecordMetadata>> sent = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                sent.add(producer.send(new ProducerRecord<>(topic, "k" + i, "java-" + i)));
            }
            producer.flush();
            for (var future : sent) {
                try {
                    future.get();
                    acked++;
                } catch (ExecutionException e) {
                    recordError(result, e);
                }
            }
            result.put("idempotence", props.getProperty(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true (default)"));
        } finally {
            result.put("acked", acked);
        }
    }

    static void consume(Properties props, String topic, String group, int count, int seconds, Map<String, Object> result) {
        props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        List<String> values = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(Collections.singletonList(topic));
            long deadline = System.nanoTime() + seconds * 1_000_000_000L;
            while (values.size() < count && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(500))) {
                    values.add(record.value());
                }
            }
            consumer.commitSync(Duration.ofSeconds(20));
            Map<String, Long> committed = new LinkedHashMap<>();
            for (var entry : consumer.committed(consumer.assignment(), Duration.ofSeconds(20)).entrySet()) {
                if (entry.getValue() != null) {
                    committed.put(entry.getKey().toString(), entry.getValue().offset());
                }
            }
            result.put("committed", committed);
        } finally {
            result.put("values", values);
        }
    }

    static void transaction(Properties props, String topic, String transactionalId, int count, Map<String, Object> result) {
        props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        String stage = "init";
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props, new StringSerializer(), new StringSerializer())) {
            try {
                producer.initTransactions();
                stage = "begin";
                producer.beginTransaction();
                stage = "send";
                for (int i = 0; i < count; i++) {
                    producer.send(new ProducerRecord<>(topic, "txn-" + i));
                }
                stage = "commit";
                producer.commitTransaction();
                stage = "committed";
            } finally {
                result.put("stage", stage);
            }
        }
    }

    static void readCommitted(Properties props, String topic, int count, int seconds, Map<String, Object> result) {
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        List<String> values = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props, new StringDeserializer(), new StringDeserializer())) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (PartitionInfo info : consumer.partitionsFor(topic, Duration.ofSeconds(20))) {
                partitions.add(new TopicPartition(topic, info.partition()));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.nanoTime() + seconds * 1_000_000_000L;
            while (values.size() < count && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(500))) {
                    values.add(record.value());
                }
            }
        } finally {
            result.put("values", values);
        }
    }

    /** Kafka 4's consumer group protocol (KIP-848): the group's state lives in ConsumerGroupHeartbeat requests.
     *  Polls until `count` records or `seconds`; poll() throwing ends it (the error is reported). */
    static void consumerProtocol(Properties props, String topic, String group, int count, int seconds, boolean regex,
                                 Map<String, Object> result) {
        props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        props.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        List<String> values = new ArrayList<>();
        long started = System.nanoTime();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props, new StringDeserializer(), new StringDeserializer())) {
            if (regex) {
                consumer.subscribe(new SubscriptionPattern(topic));
            } else {
                consumer.subscribe(Collections.singletonList(topic));
            }
            long deadline = started + seconds * 1_000_000_000L;
            try {
                // count 0: until the group has assigned something.
                while ((count > 0 ? values.size() < count : consumer.assignment().isEmpty()) && System.nanoTime() < deadline) {
                    for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(500))) {
                        values.add(record.value());
                    }
                }
                List<String> assigned = new ArrayList<>();
                for (TopicPartition tp : consumer.assignment()) {
                    assigned.add(tp.toString());
                }
                Collections.sort(assigned);
                result.put("assignment", assigned);
                if (!values.isEmpty()) {
                    consumer.commitSync(Duration.ofSeconds(20));
                }
            } finally {
                result.put("values", values);
                result.put("elapsedMs", (System.nanoTime() - started) / 1_000_000);
            }
        }
    }

    /** A share consumer (KIP-932) subscribes and polls for `seconds`; then Admin describes its group while it is
     *  still a member (ShareGroupHeartbeat made it one, ShareGroupDescribe shows it). */
    static void shareConsume(Properties props, String topic, String group, int seconds, String describerProps,
                             Map<String, Object> result) throws Exception {
        Properties consumerProps = (Properties) props.clone();
        consumerProps.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        int records = 0;
        try (KafkaShareConsumer<String, String> consumer = new KafkaShareConsumer<>(consumerProps, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(Collections.singletonList(topic));
            long deadline = System.nanoTime() + seconds * 1_000_000_000L;
            try {
                while (System.nanoTime() < deadline) {
                    records += consumer.poll(Duration.ofMillis(500)).count();
                }
            } catch (Exception e) {
                recordError(result, e);
            }
            result.put("records", records);
            Map<String, Object> described = new LinkedHashMap<>();
            Properties describer = props;
            if (describerProps != null) {
                describer = new Properties();
                try (FileInputStream in = new FileInputStream(describerProps)) {
                    describer.load(in);
                }
            }
            describeShareGroup(describer, group, described);
            result.put("described", described);
        }
    }

    /** Admin alters (AlterShareGroupOffsets: partition 0 to offset 0) or deletes (DeleteShareGroupOffsets) a share
     *  group's offsets of one topic. */
    static void shareOffsets(Properties props, String group, String topic, String operation, Map<String, Object> result)
            throws Exception {
        try (Admin admin = Admin.create(props)) {
            if (operation.startsWith("list")) {
                // "list": all the group's topics; "list-topic": partition 0 of the topic.
                ListShareGroupOffsetsSpec spec = new ListShareGroupOffsetsSpec();
                if (operation.equals("list-topic")) {
                    spec.topicPartitions(List.of(new TopicPartition(topic, 0)));
                }
                Map<TopicPartition, SharePartitionOffsetInfo> offsets = admin.listShareGroupOffsets(Map.of(group, spec))
                    .partitionsToOffsetInfo(group).get(30, TimeUnit.SECONDS);
                Map<String, Object> listed = new java.util.TreeMap<>();
                offsets.forEach((tp, info) -> listed.put(tp.toString(), info == null ? null : info.startOffset()));
                result.put("offsets", listed);
                return;
            }
            if (operation.equals("alter")) {
                admin.alterShareGroupOffsets(group, Map.of(new TopicPartition(topic, 0), 0L)).all().get(30, TimeUnit.SECONDS);
            } else {
                admin.deleteShareGroupOffsets(group, Set.of(topic)).all().get(30, TimeUnit.SECONDS);
            }
            result.put(operation, "ok");
        } catch (Exception e) {
            recordError(result, e);
        }
    }

    static void describeShareGroup(Properties props, String group, Map<String, Object> result) throws Exception {
        try (Admin admin = Admin.create(props)) {
            ShareGroupDescription description = admin.describeShareGroups(List.of(group)).describedGroups().get(group)
                .get(30, TimeUnit.SECONDS);
            result.put("state", String.valueOf(description.groupState()));
            List<String> assigned = new ArrayList<>();
            for (ShareMemberDescription member : description.members()) {
                for (TopicPartition tp : member.assignment().topicPartitions()) {
                    assigned.add(tp.toString());
                }
            }
            Collections.sort(assigned);
            result.put("members", description.members().size());
            result.put("assignment", assigned);
        } catch (Exception e) {
            recordError(result, e);
        }
    }

    // --- a minimal JSON writer (strings, numbers, lists, maps) --------------------------------------------------------

    static String json(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof Number || value instanceof Boolean) {
            return value.toString();
        }
        if (value instanceof Map<?, ?> map) {
            StringBuilder out = new StringBuilder("{");
            for (var entry : map.entrySet()) {
                if (out.length() > 1) {
                    out.append(',');
                }
                out.append(json(String.valueOf(entry.getKey()))).append(':').append(json(entry.getValue()));
            }
            return out.append('}').toString();
        }
        if (value instanceof List<?> list) {
            StringBuilder out = new StringBuilder("[");
            for (Object item : list) {
                if (out.length() > 1) {
                    out.append(',');
                }
                out.append(json(item));
            }
            return out.append(']').toString();
        }
        StringBuilder out = new StringBuilder("\"");
        for (char c : value.toString().toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }
}
