// A multiply-accumulate processing element of an output-stationary systolic array: when
// `tick`, it adds a_in * b_in (signed, exact) to its accumulator and passes a right and b
// down through registers; `clear` zeroes the accumulator and those registers.
module mac_pe #(
    parameter integer A_W = 16,
    parameter integer B_W = 16,
    parameter integer ACC_W = 40
) (
    input  wire                    clk,
    input  wire                    tick,
    input  wire                    clear,
    input  wire signed [A_W-1:0]   a_in,
    input  wire signed [B_W-1:0]   b_in,
    output reg  signed [A_W-1:0]   a_out,
    output reg  signed [B_W-1:0]   b_out,
    output reg  signed [ACC_W-1:0] acc
);
    wire signed [A_W+B_W-1:0] product = a_in * b_in;
    always @(posedge clk) begin
        if (clear) begin
            acc <= {ACC_W{1'b0}};
        end else if (tick) begin
            acc <= acc + {{(ACC_W - A_W - B_W){product[A_W+B_W-1]}}, product};
        end
        if (clear) begin
            a_out <= {A_W{1'b0}};
            b_out <= {B_W{1'b0}};
        end else if (tick) begin
            a_out <= a_in;
            b_out <= b_in;
        end
    end
endmodule
