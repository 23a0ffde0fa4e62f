// launchcost.c: the floor of ClBackend's per-launch host cost — the LaunchBench loop (4 × clSetKernelArg +
// clEnqueueNDRangeKernel of a tiny kernel, N times, then clFinish) in C straight against libOpenCL, on the first
// platform whose name contains argv[1] (default "Portable", i.e. POCL). Prints ns per launch and per setArg.
//   gcc -O2 -o /tmp/launchcost native/launchcost.c -lOpenCL && /tmp/launchcost
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(e) do { cl_int err_ = (e); if (err_ != CL_SUCCESS) { fprintf(stderr, "%s: %d\n", #e, err_); exit(1); } } while (0)

static const char* SOURCE =
    "__kernel void tiny(__global float* x, int a, int b, float c) {\n"
    "    int i = get_global_id(0);\n"
    "    if (i < a) x[i] = x[i] * c + b;\n"
    "}\n";

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char** argv) {
    const char* want = argc > 1 ? argv[1] : "Portable";
    const int n = 2000, rounds = 15;
    cl_platform_id platforms[16];
    cl_uint count;
    CHECK(clGetPlatformIDs(16, platforms, &count));
    cl_platform_id platform = platforms[0];
    for (cl_uint i = 0; i < count; i++) {
        char name[256];
        CHECK(clGetPlatformInfo(platforms[i], CL_PLATFORM_NAME, sizeof name, name, NULL));
        if (strstr(name, want)) { platform = platforms[i]; break; }
    }
    cl_device_id device;
    CHECK(clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL));
    cl_int err;
    cl_context context = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
    CHECK(err);
    cl_command_queue queue = clCreateCommandQueue(context, device, 0, &err);
    CHECK(err);
    cl_program program = clCreateProgramWithSource(context, 1, &SOURCE, NULL, &err);
    CHECK(err);
    CHECK(clBuildProgram(program, 1, &device, "", NULL, NULL));
    cl_kernel kernel = clCreateKernel(program, "tiny", &err);
    CHECK(err);
    cl_mem buffer = clCreateBuffer(context, CL_MEM_READ_WRITE, 4 * 64, NULL, &err);
    CHECK(err);
    size_t global = 64, local = 64;
    int a = 64;
    float c = 1.0f;
    for (int r = 0; r < rounds; r++) {
        double t0 = now();
        for (int i = 0; i < n; i++) {
            CHECK(clSetKernelArg(kernel, 0, sizeof(cl_mem), &buffer));
            CHECK(clSetKernelArg(kernel, 1, sizeof(int), &a));
            CHECK(clSetKernelArg(kernel, 2, sizeof(int), &i));
            CHECK(clSetKernelArg(kernel, 3, sizeof(float), &c));
            CHECK(clEnqueueNDRangeKernel(queue, kernel, 1, NULL, &global, &local, 0, NULL, NULL));
        }
        double t1 = now();
        CHECK(clFinish(queue));
        double t2 = now();
        for (int i = 0; i < n; i++) CHECK(clSetKernelArg(kernel, 2, sizeof(int), &i));
        double t3 = now();
        printf("round %2d: launch %.0f ns host, %.0f ns with drain; setArg %.0f ns\n", r, (t1 - t0) / n, (t2 - t0) / n, (t3 - t2) / n);
    }
    clReleaseMemObject(buffer);
    clReleaseKernel(kernel);
    clReleaseProgram(program);
    clReleaseCommandQueue(queue);
    clReleaseContext(context);
    return 0;
}
