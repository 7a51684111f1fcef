package io.denoise.api;

import io.denoise.auth.ApiKeys;
import io.denoise.auth.Scope;
import io.denoise.jobs.Priority;
import io.denoise.stack.StackTestResource;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fair scheduling on the test profile's one worker (two jobs per batch): jobs wait in PostgreSQL and are released a
 * few at a time, priority first and tenants in turn, so another tenant's first job starts within a few of a
 * backlog's jobs; queue positions follow that order.
 */
@QuarkusTest
@QuarkusTestResource(StackTestResource.class)
class FairSchedulingTest {

    /** About a second each on tiny-random: the backlog lasts while the test looks. */
    private static final String LONG_JOB = "{\"prompt\":\"a red circle\",\"numInferenceSteps\":60,\"width\":256,\"height\":256}";

    @ConfigProperty(name = "quarkus.datasource.jdbc.url")
    String jdbcUrl;

    @ConfigProperty(name = "denoise.api.default-model")
    String defaultModel;

    @Inject
    ApiKeys keys;

    @Inject
    MeterRegistry metrics;

    private static String submit(String key, String body) {
        return given().auth().oauth2(key).contentType(ContentType.JSON).body(body).post("/v1/jobs").then().statusCode(202)
                .extract().path("id");
    }

    /** Ids of the jobs that have started, in the order they started. */
    private List<String> startOrder(List<String> ids) throws Exception {
        try (Connection db = DriverManager.getConnection(jdbcUrl, "denoise", "denoise");
             PreparedStatement q = db.prepareStatement("""
                     select id::text from job where id::text = any (?) and started_at is not null order by started_at, id""")) {
            q.setArray(1, db.createArrayOf("text", ids.toArray()));
            List<String> out = new ArrayList<>();
            try (ResultSet r = q.executeQuery()) {
                while (r.next()) {
                    out.add(r.getString(1));
                }
            }
            return out;
        }
    }

    @Test
    void anotherTenantsFirstJobStartsWithinAFewOfABacklogsJobsAndAHighPriorityJobBeforeBoth() throws Exception {
        String a = TestKeys.key("fair-a");
        String b = TestKeys.key("fair-b");
        String c = keys.create("fair-c", EnumSet.of(Scope.JOBS), Priority.HIGH).key();
        List<String> backlog = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            backlog.add(submit(a, LONG_JOB));
        }
        try {
            String newcomer = submit(b, LONG_JOB);
            Response queued = given().auth().oauth2(b).get("/v1/jobs/" + newcomer);
            long position = queued.<Number>path("queuePosition").longValue();
            assertTrue(position <= 5, "b's job is reported near the front, not behind a's 30: " + queued.asString());
            queued.then().body("priority", equalTo("normal"));
            String urgent = submit(c, LONG_JOB.replace("{", "{\"priority\":\"high\","));
            given().auth().oauth2(c).get("/v1/jobs/" + urgent).then().body("priority", equalTo("high"));

            List<String> all = new ArrayList<>(backlog);
            all.add(newcomer);
            all.add(urgent);
            long deadline = System.nanoTime() + 120_000_000_000L;
            List<String> started;
            do {
                Thread.sleep(200);
                started = startOrder(all);
            } while ((!started.contains(newcomer) || !started.contains(urgent)) && System.nanoTime() < deadline);
            int newcomerAt = started.indexOf(newcomer);
            int urgentAt = started.indexOf(urgent);
            System.out.printf("[fair] a's 30-job backlog: b's first job started %d-th, c's high-priority job (submitted after b's) %d-th%n",
                    newcomerAt + 1, urgentAt + 1);
            // only a's jobs already running (2) or released (min-ahead, 4) when b and c came may start before them
            long aBeforeNewcomer = started.subList(0, Math.max(0, newcomerAt)).stream().filter(backlog::contains).count();
            long aBeforeUrgent = started.subList(0, Math.max(0, urgentAt)).stream().filter(backlog::contains).count();
            assertTrue(newcomerAt >= 0 && aBeforeNewcomer <= 6, aBeforeNewcomer + " of a's jobs started before b's: " + started);
            assertTrue(urgentAt >= 0 && aBeforeUrgent <= 6, aBeforeUrgent + " of a's jobs started before the urgent one");
        } finally {
            for (String id : backlog) {
                given().auth().oauth2(a).delete("/v1/jobs/" + id);
            }
        }
    }

    @Test
    void aJobMayAskForNoHigherPriorityThanItsKeyAllows() {
        given().contentType(ContentType.JSON).body("{\"prompt\":\"x\",\"numInferenceSteps\":2,\"priority\":\"high\"}")
                .auth().oauth2(TestKeys.key("fair-d")).post("/v1/jobs").then().statusCode(400)
                .body("field", equalTo("priority")).body("message", containsString("at most normal"));
        given().contentType(ContentType.JSON).body("{\"prompt\":\"x\",\"numInferenceSteps\":2,\"priority\":\"urgent\"}")
                .auth().oauth2(TestKeys.key("fair-d")).post("/v1/jobs").then().statusCode(400)
                .body("field", equalTo("priority"));
        String low = submit(TestKeys.key("fair-d"), "{\"prompt\":\"x\",\"numInferenceSteps\":2,\"priority\":\"low\"}");
        given().auth().oauth2(TestKeys.key("fair-d")).get("/v1/jobs/" + low).then().body("priority", equalTo("low"));
        String admin = TestKeys.adminKey("fair-admin");
        given().auth().oauth2(admin).contentType(ContentType.JSON).body("{\"tenant\":\"fair-e\",\"maxPriority\":\"high\"}")
                .post("/v1/admin/keys").then().statusCode(201).body("info.maxPriority", equalTo("high"));
        given().auth().oauth2(admin).contentType(ContentType.JSON).body("{\"tenant\":\"fair-e\",\"maxPriority\":\"top\"}")
                .post("/v1/admin/keys").then().statusCode(400).body("field", equalTo("maxPriority"));
    }

    @Test
    void theDispatcherKeepsOnlyAFewJobsReleasedAheadOfTheWorker() throws Exception {
        String key = TestKeys.key("fair-f");
        Counter inSubmit = metrics.find("denoise_dispatch_rounds").tag("trigger", "submit").counter();
        double before = inSubmit.count();
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            ids.add(submit(key, LONG_JOB));
        }
        // once the room is taken (2 running, 4 ahead), submits leave their held jobs to the dispatcher's rounds
        double rounds = inSubmit.count() - before;
        assertTrue(rounds <= 7, rounds + " of 20 submits ran a release round of their own");
        try {
            Thread.sleep(1500);
            try (Connection db = DriverManager.getConnection(jdbcUrl, "denoise", "denoise");
                 PreparedStatement q = db.prepareStatement("""
                         select count(*) filter (where held), count(*) filter (where not held and status = 'QUEUED')
                           from job where id::text = any (?) and status = 'QUEUED'""")) {
                q.setArray(1, db.createArrayOf("text", ids.toArray()));
                try (ResultSet r = q.executeQuery()) {
                    r.next();
                    long held = r.getLong(1);
                    long released = r.getLong(2);
                    assertTrue(released <= 4, "at most min-ahead released and waiting: " + released);
                    assertTrue(held >= 10, "the rest wait in PostgreSQL: " + held + " at " + Instant.now());
                }
            }
        } finally {
            for (String id : ids) {
                given().auth().oauth2(key).delete("/v1/jobs/" + id);
            }
        }
    }

    @Test
    void aJobSubmittedWhileItsModelHasRoomIsReleasedByItsOwnCommit() throws Exception {
        Counter inSubmit = metrics.find("denoise_dispatch_rounds").tag("trigger", "submit").counter();
        Counter woken = metrics.find("denoise_dispatch_rounds").tag("trigger", "wake").counter();
        assertTrue(inSubmit != null && woken != null, "the dispatcher counts its rounds by what started them");
        awaitNothingHeldOrRunning();
        awaitRoundsAfter(2);
        String key = TestKeys.key("fair-g");
        double before = inSubmit.count();
        double wokenBefore = woken.count();
        String id = submit(key, "{\"prompt\":\"x\",\"numInferenceSteps\":2}");
        // the round ran in the submit's transaction, before its 202: no round after it can account for this
        assertTrue(inSubmit.count() > before, "released by a round in its submit: " + inSubmit.count() + " after " + before);
        assertEquals(false, held(id), "released when its 202 came");
        awaitEnded(key, id);
        // nothing else was held or running, and nothing stayed held: only the job's claim can have asked for a round
        assertTrue(woken.count() > wokenBefore, "its claim woke the dispatcher: " + woken.count());
    }

    @Test
    void aJobLeftHeldByItsSubmitWakesTheDispatcherAndLeavesOnceTheModelIsFree() throws Exception {
        Counter woken = metrics.find("denoise_dispatch_rounds").tag("trigger", "wake").counter();
        awaitNothingHeldOrRunning();
        String key = TestKeys.key("fair-h");
        String id;
        // the model's dispatch lock, held as another replica's round would hold it: no round here can release
        try (Connection db = DriverManager.getConnection(jdbcUrl, "denoise", "denoise")) {
            db.setAutoCommit(false);
            try (PreparedStatement lock = db.prepareStatement(
                    "select pg_advisory_xact_lock(hashtextextended('denoise-dispatch:' || ?, 0))")) {
                lock.setString(1, defaultModel);
                lock.execute();
            }
            double before = woken.count();
            id = submit(key, "{\"prompt\":\"x\",\"numInferenceSteps\":2}");
            assertEquals(true, held(id), "held while another round holds its model's lock");
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (woken.count() <= before && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertTrue(woken.count() > before, "the submit asked for a round: " + woken.count() + " after " + before);
            assertEquals(true, held(id), "that round found the lock taken, too");
            db.commit();
        }
        // the woken round found the lock taken, so ticks keep coming at the short interval: the next one releases it
        awaitEnded(key, id);
    }

    /** Whether the job is held now. */
    private boolean held(String id) throws Exception {
        try (Connection db = DriverManager.getConnection(jdbcUrl, "denoise", "denoise");
             PreparedStatement q = db.prepareStatement("select held from job where id::text = ?")) {
            q.setString(1, id);
            try (ResultSet r = q.executeQuery()) {
                assertTrue(r.next(), "job " + id + " is stored");
                return r.getBoolean(1);
            }
        }
    }

    @Test
    void withNothingHeldTheDispatcherTicksAtItsIdleInterval() throws Exception {
        awaitNothingHeldOrRunning();
        Thread.sleep(1200); // a tick at the short interval, if one was due, has run
        Counter ticks = metrics.find("denoise_dispatch_rounds").tag("trigger", "schedule").counter();
        double before = ticks.count();
        Thread.sleep(3000);
        double during = ticks.count() - before;
        // the test profile's idle interval is the default 1 s; at the 50 ms interval this would be about 60
        assertTrue(during >= 1 && during <= 5, during + " ticks in 3 s with nothing held");
    }

    /** Waits until {@code n} rounds have started since now, the last of them after anything before it ended. */
    private void awaitRoundsAfter(int n) throws InterruptedException {
        double before = metrics.find("denoise_dispatch_rounds").counters().stream().mapToDouble(Counter::count).sum();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (metrics.find("denoise_dispatch_rounds").counters().stream().mapToDouble(Counter::count).sum() < before + n) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the dispatcher ran no round within 10 s");
            }
            Thread.sleep(20);
        }
    }

    /** Waits until the other tests' jobs have left: none held, none running. */
    private void awaitNothingHeldOrRunning() throws Exception {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            try (Connection db = DriverManager.getConnection(jdbcUrl, "denoise", "denoise");
                 PreparedStatement q = db.prepareStatement(
                         "select count(*) from job where (status = 'QUEUED' and held) or status = 'RUNNING'");
                 ResultSet r = q.executeQuery()) {
                r.next();
                if (r.getLong(1) == 0) {
                    return;
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the other tests' jobs did not leave within 60 s");
    }

    private static void awaitEnded(String key, String id) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!given().auth().oauth2(key).get("/v1/jobs/" + id).<String>path("status").equals("SUCCEEDED")) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("job " + id + " did not succeed within 30 s");
            }
            Thread.sleep(20);
        }
    }
}
