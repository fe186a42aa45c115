// Kafka's Java admin client addressing topics by id (Metadata v12 by id, DeleteTopics v6 by id) through Envoy and
// the filter, driven by integration/tests/test_topic_ids.py. Compiled with the other Java clients.
//
//   java -cp <classes>:<kafka libs>/* TopicIdsAdmin <client.properties> <internal bootstrap> <delete|keep> <topic>...
//
// The topics' ids are read on the brokers' INTERNAL listener (setup, not through Envoy); then, through Envoy:
// describeTopics by those ids, and with `delete`, deleteTopics by the first topic's id (asked again once when
// the answer is UnknownTopicIdException: Kafka's admin client does not retry it, and a filter that has not
// learned the id answers it once). Prints `RESULT {json}`: per topic the described name or the exception class,
// and the delete outcome.

import java.io.FileInputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicCollection;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.UnknownTopicIdException;

public class TopicIdsAdmin {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            props.load(in);
        }
        boolean delete = args[2].equals("delete");
        List<String> topics = new ArrayList<>(List.of(args).subList(3, args.length));
        Map<String, Uuid> ids = new LinkedHashMap<>();
        Properties internal = new Properties();
        internal.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[1]);
        try (Admin admin = Admin.create(internal)) {
            for (var entry : admin.describeTopics(topics).allTopicNames().get().entrySet()) {
                ids.put(entry.getKey(), entry.getValue().topicId());
            }
        }
        Map<String, Object> described = new LinkedHashMap<>();
        Map<String, Object> result = new LinkedHashMap<>();
        try (Admin admin = Admin.create(props)) {
            var futures = admin.describeTopics(TopicCollection.ofTopicIds(ids.values())).topicIdValues();
            for (var entry : ids.entrySet()) {
                try {
                    TopicDescription description = futures.get(entry.getValue()).get();
                    described.put(entry.getKey(), "name:" + description.name());
                } catch (ExecutionException e) {
                    described.put(entry.getKey(), e.getCause().getClass().getName());
                    result.putIfAbsent("message", String.valueOf(e.getCause().getMessage()));
                }
            }
            if (delete) {
                Uuid id = ids.get(topics.get(0));
                int attempts = 0;
                String outcome = "deleted";
                while (true) {
                    attempts++;
                    try {
                        admin.deleteTopics(TopicCollection.ofTopicIds(List.of(id))).all().get();
                        outcome = "deleted";
                        break;
                    } catch (ExecutionException e) {
                        outcome = e.getCause().getClass().getName();
                        if (!(e.getCause() instanceof UnknownTopicIdException) || attempts >= 2) {
                            break;
                        }
                    }
                }
                result.put("delete", outcome);
                result.put("deleteAttempts", attempts);
            }
        }
        result.put("described", described);
        StringBuilder json = new StringBuilder("{");
        for (var entry : result.entrySet()) {
            if (json.length() > 1) {
                json.append(',');
            }
            json.append('"').append(entry.getKey()).append("\":").append(value(entry.getValue()));
        }
        System.out.println("RESULT " + json.append('}'));
    }

    static String value(Object v) {
        if (v instanceof Number) {
            return v.toString();
        }
        if (v instanceof Map<?, ?> map) {
            StringBuilder out = new StringBuilder("{");
            for (var entry : map.entrySet()) {
                if (out.length() > 1) {
                    out.append(',');
                }
                out.append('"').append(entry.getKey()).append("\":").append(value(entry.getValue()));
            }
            return out.append('}').toString();
        }
        return "\"" + String.valueOf(v).replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
