// The oracle's wire driver: sends Kafka requests described as JSON (the field names of Kafka's own message
// schemas) and prints each response as JSON, so the Python runner can compare what Apache Kafka's authorizer
// answers with what the filter answers. Encoding and decoding are Kafka's own generated message classes, so
// every API is spoken at every version exactly as kafka-clients speaks it.
//
// Protocol: one JSON command per line on stdin, one JSON answer per line on stdout.
//   {"op":"connect","conn":"c1","port":9093,"source":"127.0.0.2","keystore":"alice.p12","ca":"ca.crt"}
//       (no keystore: PLAINTEXT)                                    -> {"ok":true} | {"error":"..."}
//   {"op":"send","conn":"c1","api":3,"version":12,"request":{...}} -> {"ok":true,"response":{...}} | {"error":"..."}
//       Missing request fields take their schema defaults. A "records" value given as an object
//       {"values":["a"],"producerId":-1,"producerEpoch":-1,"baseSequence":-1,"transactional":false}
//       is built into a record batch.
//   {"op":"close","conn":"c1"}                                     -> {"ok":true}
// An error of "closed" means the peer closed the connection instead of answering.
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.io.*;
import java.lang.reflect.*;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.*;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.*;
import javax.net.ssl.*;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.message.RequestHeaderData;
import org.apache.kafka.common.protocol.*;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.apache.kafka.common.requests.RequestHeader;
import org.apache.kafka.common.requests.ResponseHeader;

public class OracleDriver {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String PKG = "org.apache.kafka.common.message.";
    static final Map<String, Conn> CONNS = new HashMap<>();

    static final class Conn {
        Socket socket;
        DataInputStream in;
        OutputStream out;
        int correlation = 1;
    }

    public static void main(String[] args) throws Exception {
        BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
        PrintStream stdout = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
        String line;
        while ((line = stdin.readLine()) != null) {
            if (line.isBlank()) continue;
            ObjectNode answer = JSON.createObjectNode();
            try {
                JsonNode cmd = JSON.readTree(line);
                String op = cmd.get("op").asText();
                switch (op) {
                    case "connect": connect(cmd); answer.put("ok", true); break;
                    case "send": answer.set("response", send(cmd)); answer.put("ok", true); break;
                    case "close": close(cmd.get("conn").asText()); answer.put("ok", true); break;
                    default: throw new IllegalArgumentException("unknown op " + op);
                }
            } catch (EOFException e) {
                answer.put("error", "closed");
            } catch (IOException e) {
                answer.put("error", "closed: " + e);
            } catch (InvocationTargetException e) {
                answer.put("error", "driver: " + e.getCause());
            } catch (Exception e) {
                answer.put("error", "driver: " + e);
            }
            stdout.println(JSON.writeValueAsString(answer));
        }
    }

    static void connect(JsonNode cmd) throws Exception {
        String name = cmd.get("conn").asText();
        close(name);
        Socket raw = new Socket();
        raw.setSoTimeout(cmd.path("timeoutMs").asInt(30000));
        raw.setTcpNoDelay(true);
        if (cmd.hasNonNull("source")) raw.bind(new InetSocketAddress(cmd.get("source").asText(), 0));
        raw.connect(new InetSocketAddress(cmd.path("host").asText("127.0.0.1"), cmd.get("port").asInt()), 10000);
        Socket socket = raw;
        if (cmd.hasNonNull("keystore")) {
            SSLSocket tls = (SSLSocket) sslContext(cmd.get("keystore").asText(), cmd.get("ca").asText())
                .getSocketFactory().createSocket(raw, "localhost", raw.getPort(), true);
            SSLParameters params = tls.getSSLParameters();
            params.setEndpointIdentificationAlgorithm("HTTPS");
            tls.setSSLParameters(params);
            tls.startHandshake();
            socket = tls;
        }
        Conn conn = new Conn();
        conn.socket = socket;
        conn.in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
        conn.out = new BufferedOutputStream(socket.getOutputStream());
        CONNS.put(name, conn);
    }

    static final Map<String, SSLContext> CONTEXTS = new HashMap<>();

    static SSLContext sslContext(String keystore, String ca) throws Exception {
        String key = keystore + "|" + ca;
        SSLContext cached = CONTEXTS.get(key);
        if (cached != null) return cached;
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(Paths.get(keystore))) { ks.load(in, "oracle".toCharArray()); }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "oracle".toCharArray());
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        try (InputStream in = Files.newInputStream(Paths.get(ca))) {
            CertificateFactory factory = CertificateFactory.getInstance("X.509");
            ts.setCertificateEntry("ca", (X509Certificate) factory.generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        SSLContext context = SSLContext.getInstance("TLSv1.3");
        context.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        CONTEXTS.put(key, context);
        return context;
    }

    static void close(String name) {
        Conn conn = CONNS.remove(name);
        if (conn != null) {
            try { conn.socket.close(); } catch (IOException ignored) { }
        }
    }

    static JsonNode send(JsonNode cmd) throws Exception {
        Conn conn = CONNS.get(cmd.get("conn").asText());
        if (conn == null) throw new IOException("not connected");
        ApiKeys apiKey = ApiKeys.forId(cmd.get("api").asInt());
        short version = (short) cmd.get("version").asInt();
        String name = apiKey.name;
        Class<?> dataClass = Class.forName(PKG + name + "RequestData");
        Class<?> converter = Class.forName(PKG + name + "RequestDataJsonConverter");
        ObjectNode request = cmd.get("request").deepCopy();
        buildRecords(request);
        fillDefaults(dataClass, converter, request, version);
        ApiMessage data = (ApiMessage) converter.getMethod("read", JsonNode.class, short.class)
            .invoke(null, request, version);

        int correlation = conn.correlation++;
        String clientId = cmd.path("clientId").asText("kmf-oracle");
        RequestHeader header = new RequestHeader(apiKey, version, clientId, correlation);
        RequestHeaderData headerData = header.data();
        short headerVersion = header.headerVersion();
        ObjectSerializationCache cache = new ObjectSerializationCache();
        int size = headerData.size(cache, headerVersion) + data.size(cache, version);
        ByteBuffer buffer = ByteBuffer.allocate(4 + size);
        buffer.putInt(size);
        ByteBufferAccessor accessor = new ByteBufferAccessor(buffer);
        headerData.write(accessor, cache, headerVersion);
        data.write(accessor, cache, version);
        conn.out.write(buffer.array());
        conn.out.flush();
        if (cmd.path("noResponse").asBoolean(false)) return JSON.createObjectNode();

        int responseSize = conn.in.readInt();
        byte[] bytes = new byte[responseSize];
        conn.in.readFully(bytes);
        ByteBuffer response = ByteBuffer.wrap(bytes);
        ResponseHeader responseHeader = ResponseHeader.parse(response, apiKey.responseHeaderVersion(version));
        if (responseHeader.correlationId() != correlation)
            throw new IOException("correlation id " + responseHeader.correlationId() + ", expected " + correlation);
        ApiMessage message = apiKey.messageType.newResponse();
        message.read(new ByteBufferAccessor(response), version);
        Class<?> responseClass = message.getClass();
        Class<?> responseConverter = Class.forName(PKG + name + "ResponseDataJsonConverter");
        try {
            return (JsonNode) responseConverter.getMethod("write", responseClass, short.class, boolean.class)
                .invoke(null, message, version, false);
        } catch (NoSuchMethodException e) {
            return (JsonNode) responseConverter.getMethod("write", responseClass, short.class)
                .invoke(null, message, version);
        }
    }

    /** Replaces each "records" object ({"values": [...], producer fields}) by a record batch (base64: Kafka's JSON). */
    static void buildRecords(JsonNode node) {
        if (node.isArray()) {
            for (JsonNode child : node) buildRecords(child);
        } else if (node.isObject()) {
            ObjectNode object = (ObjectNode) node;
            Iterator<Map.Entry<String, JsonNode>> fields = object.fields();
            List<String> names = new ArrayList<>();
            while (fields.hasNext()) names.add(fields.next().getKey());
            for (String field : names) {
                JsonNode value = object.get(field);
                if (field.equals("records") && value.isObject() && value.has("values")) {
                    // Now: an old timestamp would let time-based retention delete the records mid-run.
                    List<SimpleRecord> records = new ArrayList<>();
                    for (JsonNode v : value.get("values"))
                        records.add(new SimpleRecord(System.currentTimeMillis(), null, v.asText().getBytes()));
                    long producerId = value.path("producerId").asLong(-1);
                    short epoch = (short) value.path("producerEpoch").asInt(-1);
                    int sequence = value.path("baseSequence").asInt(-1);
                    boolean transactional = value.path("transactional").asBoolean(false);
                    MemoryRecords batch = MemoryRecords.withRecords(
                        RecordBatch.CURRENT_MAGIC_VALUE, 0L, Compression.NONE,
                        TimestampType.CREATE_TIME, producerId, epoch, sequence, RecordBatch.NO_PARTITION_LEADER_EPOCH,
                        transactional, records.toArray(new SimpleRecord[0]));
                    ByteBuffer buf = batch.buffer();
                    byte[] raw = new byte[buf.remaining()];
                    buf.get(raw);
                    object.set(field, new TextNode(Base64.getEncoder().encodeToString(raw)));
                } else {
                    buildRecords(value);
                }
            }
        }
    }

    /** Adds the schema default of every field `given` lacks, recursively (the JSON readers require every field). */
    static void fillDefaults(Class<?> dataClass, Class<?> topConverter, ObjectNode given, short version)
            throws Exception {
        Class<?> converter = dataClass.getEnclosingClass() == null ? topConverter
            : Class.forName(topConverter.getName() + "$" + dataClass.getSimpleName() + "JsonConverter");
        Object defaults = dataClass.getDeclaredConstructor().newInstance();
        JsonNode defaultJson = (JsonNode) converter.getMethod("write", dataClass, short.class)
            .invoke(null, defaults, version);
        Iterator<Map.Entry<String, JsonNode>> it = defaultJson.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> entry = it.next();
            if (!given.has(entry.getKey())) given.set(entry.getKey(), entry.getValue());
        }
        Iterator<String> names = given.fieldNames();
        List<String> fieldNames = new ArrayList<>();
        names.forEachRemaining(fieldNames::add);
        for (String fieldName : fieldNames) {
            JsonNode value = given.get(fieldName);
            Field field;
            try { field = dataClass.getDeclaredField(fieldName); } catch (NoSuchFieldException e) { continue; }
            Class<?> element = null;
            Type type = field.getGenericType();
            if (type instanceof ParameterizedType && List.class.isAssignableFrom(field.getType())) {
                Type arg = ((ParameterizedType) type).getActualTypeArguments()[0];
                if (arg instanceof Class) element = (Class<?>) arg;
            } else if (field.getType().getGenericSuperclass() instanceof ParameterizedType
                       && Collection.class.isAssignableFrom(field.getType())) {
                Type arg = ((ParameterizedType) field.getType().getGenericSuperclass()).getActualTypeArguments()[0];
                if (arg instanceof Class) element = (Class<?>) arg;
            } else if (Message.class.isAssignableFrom(field.getType())) {
                if (value.isObject()) fillDefaults(field.getType(), topConverter, (ObjectNode) value, version);
                continue;
            }
            if (element != null && Message.class.isAssignableFrom(element) && value.isArray()) {
                for (JsonNode item : (ArrayNode) value)
                    if (item.isObject()) fillDefaults(element, topConverter, (ObjectNode) item, version);
            }
        }
    }
}
