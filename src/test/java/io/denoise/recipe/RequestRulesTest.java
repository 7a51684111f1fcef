package io.denoise.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.math.BigInteger;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RequestRulesTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    static final ModelProfile MODEL = new ModelProfile("shapes",
            new ModelProfile.Defaults(7.5, 20, 64, 64, "pndm"),
            new ModelProfile.Limits(32, 256, 32, 256, 150, 4, 8),
            List.of("pndm", "ddim", "euler"), true);

    static GenerationRequest read(String body) throws Exception {
        return read(body, null);
    }

    static GenerationRequest read(String body, String initImage) throws Exception {
        JsonNode node = JSON.readTree(body);
        return RequestReader.read(node, MODEL, ServiceLimits.DEFAULT, initImage, () -> BigInteger.valueOf(42));
    }

    @Test
    void whatARequestLeavesOutTakesTheModelsDefaults() throws Exception {
        GenerationRequest r = read("{\"prompt\":\"a red circle\"}");
        assertEquals(new GenerationRequest("a red circle", "", 64, 64, 20, 7.5, "pndm", BigInteger.valueOf(42), 1, null,
                null, 0.0, "none", 1), r);
    }

    @Test
    void anInitImageWithoutAStrengthGetsDiffusersDefault() throws Exception {
        assertEquals(GenerationRequest.DEFAULT_STRENGTH, read("{\"prompt\":\"x\"}", "init/1").strength());
        assertEquals(0.5, read("{\"prompt\":\"x\",\"strength\":0.5}", "init/1").strength());
        assertNull(read("{\"prompt\":\"x\"}").strength());
        assertEquals(1.0, read("{\"prompt\":\"x\"}").effectiveStrength());
    }

    @Test
    void seedsAreUnsigned64BitFromNumbersOrDigitStrings() throws Exception {
        assertEquals(RequestRules.MAX_SEED, read("{\"prompt\":\"x\",\"seed\":\"18446744073709551615\"}").seed());
        assertEquals(-1L, read("{\"prompt\":\"x\",\"seed\":18446744073709551615}").seedOf(0));
        assertEquals(0L, read("{\"prompt\":\"x\",\"seed\":18446744073709551615}").seedOf(1));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "{\"prompt\":\"  \"}                                 | prompt            | must not be blank",
            "{}                                                  | prompt            | is required",
            "{\"prompt\":\"x\",\"width\":60}                     | width             | multiple of 8 between 32 and 256",
            "{\"prompt\":\"x\",\"width\":\"64\"}                 | width             | must be an integer",
            "{\"prompt\":\"x\",\"height\":512}                   | height            | between 32 and 256",
            "{\"prompt\":\"x\",\"numInferenceSteps\":0}          | numInferenceSteps | between 1 and 150",
            "{\"prompt\":\"x\",\"guidanceScale\":50.5}           | guidanceScale     | between 0 and 50",
            "{\"prompt\":\"x\",\"guidanceScale\":-1}             | guidanceScale     | between 0 and 50",
            "{\"prompt\":\"x\",\"scheduler\":\"magic\"}          | scheduler         | must be one of [pndm, ddim, euler]",
            "{\"prompt\":\"x\",\"seed\":-1}                      | seed              | between 0 and",
            "{\"prompt\":\"x\",\"seed\":18446744073709551616}    | seed              | between 0 and",
            "{\"prompt\":\"x\",\"seed\":1.5}                     | seed              | must be an integer",
            "{\"prompt\":\"x\",\"numImages\":5}                  | numImages         | between 1 and 4",
            "{\"prompt\":\"x\",\"strength\":0.5}                 | strength          | applies only with initImage",
            "{\"prompt\":\"x\",\"eta\":2}                        | eta               | between 0 and 1",
            "{\"prompt\":\"x\",\"preview\":\"sometimes\"}        | preview           | must be one of [none, approx, full]",
            "{\"prompt\":\"x\",\"numInferenceSteps\":4,\"previewEvery\":5} | previewEvery | between 1 and numInferenceSteps (4)",
    })
    void eachBrokenRuleNamesItsField(String body, String field, String rule) {
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> read(body));
        assertEquals(field, e.field());
        assertTrue(e.rule().contains(rule), e.rule());
    }

    @Test
    void strengthMustLeaveAStep() {
        InvalidRequestException e = assertThrows(InvalidRequestException.class,
                () -> read("{\"prompt\":\"x\",\"numInferenceSteps\":2,\"strength\":0.2}", "init/1"));
        assertEquals("strength", e.field());
    }

    @Test
    void aModelWithoutAVaeEncoderRefusesAnInitImage() {
        ModelProfile textOnly = new ModelProfile("text-only", MODEL.defaults(), MODEL.limits(), MODEL.schedulers(), false);
        GenerationRequest r = GenerationRequest.of(MODEL.defaults(), "x", 1).withInitImage("init/1", null);
        InvalidRequestException e = assertThrows(InvalidRequestException.class,
                () -> RequestRules.check(r, textOnly, ServiceLimits.DEFAULT));
        assertEquals("initImage", e.field());
        RequestRules.check(r, MODEL, ServiceLimits.DEFAULT);
    }

    @Test
    void theSizeStepFollowsTheVaeScaleFactor() {
        ModelProfile coarse = new ModelProfile("coarse", MODEL.defaults(),
                new ModelProfile.Limits(64, 256, 64, 256, 150, 4, 16), MODEL.schedulers(), true);
        GenerationRequest r = GenerationRequest.of(MODEL.defaults(), "x", 1).withSize(72, 64);
        RequestRules.check(r, MODEL, ServiceLimits.DEFAULT);
        InvalidRequestException e = assertThrows(InvalidRequestException.class,
                () -> RequestRules.check(r, coarse, ServiceLimits.DEFAULT));
        assertEquals("width", e.field());
        assertTrue(e.rule().contains("multiple of 16"), e.rule());
        assertEquals(8, new ModelProfile.Limits(8, 8, 8, 8, 1, 1, 0).sizeMultiple(), "a card without a step means 8");
    }

    @Test
    void thePromptLengthLimitIsTheDeployments() {
        GenerationRequest r = GenerationRequest.of(MODEL.defaults(), "a".repeat(11), 1);
        RequestRules.check(r, MODEL, ServiceLimits.DEFAULT);
        InvalidRequestException e = assertThrows(InvalidRequestException.class,
                () -> RequestRules.check(r, MODEL, new ServiceLimits(10, 1 << 20, 1 << 20)));
        assertEquals("prompt", e.field());
        assertTrue(e.rule().contains("at most 10 characters"), e.rule());
    }

    @Test
    void theRequestRoundTripsThroughItsStoredJson() throws Exception {
        GenerationRequest r = read("{\"prompt\":\"x\",\"seed\":\"18446744073709551615\",\"preview\":\"approx\"}", "init/7");
        String stored = JSON.writeValueAsString(r);
        assertEquals(r, JSON.readValue(stored, GenerationRequest.class));
        assertTrue(stored.contains("\"initImage\":\"init/7\""), stored);
        assertTrue(stored.contains("\"seed\":18446744073709551615"), stored);
        assertEquals(GenerationRequest.PreviewMode.APPROX, r.previewMode());
    }

    @Test
    void theBuilderChangesOnlyWhatItIsTold() throws Exception {
        GenerationRequest r = read("{\"prompt\":\"x\",\"negativePrompt\":\"blue\",\"eta\":0.5}");
        GenerationRequest changed = r.withSteps(7);
        assertEquals(7, changed.numInferenceSteps());
        assertEquals(r, changed.withSteps(r.numInferenceSteps()));
        assertEquals(r, r.toBuilder().build());
    }
}
