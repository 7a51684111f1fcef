package io.denoise.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenizeCommandTest {

    private static final String MODEL = "src/test/resources/real-export/tiny-sd";

    @Test
    void printsOneJsonLinePerTextWithThePadded77IdsAndTruncation() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        String longText = "a very long prompt with many words ".repeat(14);
        int rc = TokenizeCommand.run(new String[] {"--model", MODEL, "A painting of a squirrel eating a burger", longText},
                new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        assertEquals(0, rc);
        String[] lines = out.toString(StandardCharsets.UTF_8).strip().split("\n");
        assertEquals(2, lines.length);
        ObjectMapper json = new ObjectMapper();
        JsonNode first = json.readTree(lines[0]);
        assertEquals("A painting of a squirrel eating a burger", first.get("text").asText());
        assertEquals(77, first.get("ids").size());
        assertEquals("[49406,320,3086,539,320,14004,4371,320,6548,49407,49407]",
                first.get("ids").toString().substring(0, "[49406,320,3086,539,320,14004,4371,320,6548,49407,49407".length()) + "]");
        assertFalse(first.get("truncated").asBoolean());
        JsonNode second = json.readTree(lines[1]);
        assertEquals(77, second.get("ids").size());
        assertTrue(second.get("truncated").asBoolean());
        assertEquals(49407, second.get("ids").get(76).asLong(), "the end token closes a truncated prompt");
    }

    @Test
    void withoutAModelOrTextItPrintsUsage() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, TokenizeCommand.run(new String[] {"--model", MODEL}, System.out, new PrintStream(err)));
        assertTrue(err.toString().contains("usage: tokenize"));
    }

    @Test
    void aMissingTokenizerFailsNamingTheDirectory() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(1, TokenizeCommand.run(new String[] {"--model", "no/such/model", "x"}, System.out, new PrintStream(err)));
        assertTrue(err.toString().contains("no/such/model"), err.toString());
    }
}
