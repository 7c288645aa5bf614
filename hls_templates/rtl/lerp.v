// a + weight * (b - a) for table interpolation, exact, then rounded half up (ROUND = 1, the
// golden model's AP_RND) or truncated (ROUND = 0, AP_TRN) back to the table's fraction.
// weight is a WEIGHT_W-bit fraction in [0, 1); a and b are unsigned table entries.
module lerp #(
    parameter integer TABLE_W = 18,
    parameter integer WEIGHT_W = 10,
    parameter integer ROUND = 1
) (
    input  wire [TABLE_W-1:0]  a,
    input  wire [TABLE_W-1:0]  b,
    input  wire [WEIGHT_W-1:0] weight,
    output wire [TABLE_W-1:0]  value
);
    localparam integer SUM_W = TABLE_W + WEIGHT_W + 3;
    wire signed [SUM_W-1:0] a_wide = $signed({3'b000, a, {WEIGHT_W{1'b0}}});
    wire signed [SUM_W-1:0] step = $signed({{(WEIGHT_W + 3){1'b0}}, b})
                                 - $signed({{(WEIGHT_W + 3){1'b0}}, a});
    wire signed [SUM_W-1:0] weight_wide = $signed({{(TABLE_W + 3){1'b0}}, weight});
    wire signed [SUM_W-1:0] exact = a_wide + weight_wide * step;
    wire signed [SUM_W-1:0] half = ROUND != 0 ? $signed({{(SUM_W - 1){1'b0}}, 1'b1}) <<< (WEIGHT_W - 1)
                                              : {SUM_W{1'b0}};
    /* verilator lint_off UNUSEDSIGNAL */
    wire signed [SUM_W-1:0] rounded = (exact + half) >>> WEIGHT_W;  // the result fits TABLE_W
    /* verilator lint_on UNUSEDSIGNAL */
    assign value = rounded[TABLE_W-1:0];
endmodule
